/**
 * What every snippet is made from, and the helpers more than one language uses. No imports
 * from outside this folder, so the Node tests import the snippets as they are; imports
 * inside it name their `.js` file, which both Vite and Node's TypeScript resolution follow.
 */

export type ChatBody = Record<string, unknown>;

export interface SnippetRequest {
  /** The server's origin, such as `https://api.example.com` (no trailing slash). */
  baseUrl: string;
  /** The JSON body of POST /kimi/chat/completions. */
  body: ChatBody;
}

export const API_KEY_VARIABLE = 'MOONGATE_API_KEY';

export function chatUrl(baseUrl: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/kimi/chat/completions`;
}

/** OpenAI SDKs append /chat/completions to their base URL; /v1 is moongate's path for them (README). */
export function sdkBaseUrl(baseUrl: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/v1`;
}

export function isStream(body: ChatBody): boolean {
  return body.stream === true;
}

/** Pretty JSON with the given indent on every line after the first. */
export function indentedJson(value: unknown, indent: string): string {
  return JSON.stringify(value, null, 2).replace(/\n/g, `\n${indent}`);
}
