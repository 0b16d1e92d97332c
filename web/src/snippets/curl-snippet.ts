/** cURL: the request as one shell command (`-N` to print a stream as it comes). */
import { API_KEY_VARIABLE, chatUrl, isStream, type SnippetRequest } from './snippet-request.js';

/** A POSIX shell single-quoted word: nothing is special inside but `'` itself. */
function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

export function curlSnippet({ baseUrl, body }: SnippetRequest): string {
  const lines = [
    `curl${isStream(body) ? ' -N' : ''} ${shellQuote(chatUrl(baseUrl))} \\`,
    `  -H "Authorization: Bearer $${API_KEY_VARIABLE}" \\`,
    `  -H 'Content-Type: application/json' \\`,
    `  -d ${shellQuote(JSON.stringify(body, null, 2))}`,
  ];
  return `${lines.join('\n')}\n`;
}
