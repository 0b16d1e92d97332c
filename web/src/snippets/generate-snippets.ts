/**
 * Client code for exactly the request on the playground's screen: cURL, Python `requests`,
 * Node `fetch`, Java `java.net.http` and OkHttp, and the `openai` SDK for Python and
 * JavaScript. Pure functions of {baseUrl, body}, one file per language beside this index;
 * nothing imported from outside this folder, so the Node tests import them as they are and
 * run every snippet against a real server (test/integration/snippets.test.ts).
 *
 * Rules every snippet keeps:
 * - the token is never inlined: it is read from the MOONGATE_API_KEY environment variable;
 * - user text is escaped for its language (quotes, backslashes, newlines, `$`, unicode);
 * - with `"stream": true` the reply is read line by line, `data:` lines are parsed, reading
 *   stops at `data: [DONE]`, and reasoning and answer deltas are printed as they come:
 *   `[reasoning]` then the reasoning, then `[answer]` then the answer (the markers only when
 *   the model reasoned); without stream the answer (`choices[0].message.content`) is printed;
 * - an error answer (the API's envelope) is printed to stderr and the program exits with 1.
 */
import { curlSnippet } from './curl-snippet.js';
import { javaHttpSnippet, okHttpSnippet } from './java-snippets.js';
import { nodeFetchSnippet, openaiNodeSnippet } from './node-snippets.js';
import { openaiPythonSnippet, pythonRequestsSnippet } from './python-snippets.js';
import type { SnippetRequest } from './snippet-request.js';

export { API_KEY_VARIABLE, type ChatBody, type SnippetRequest } from './snippet-request.js';
export { curlSnippet, javaHttpSnippet, nodeFetchSnippet, okHttpSnippet, openaiNodeSnippet, openaiPythonSnippet, pythonRequestsSnippet };

export type SnippetId = 'curl' | 'python' | 'node' | 'java' | 'okhttp' | 'openai-python' | 'openai-node';

export interface Snippet {
  id: SnippetId;
  /** The tab's label. */
  label: string;
  /** The highlighter's language name (prism). */
  language: 'bash' | 'python' | 'javascript' | 'java';
  /** A file name to save it as (the Java ones must keep theirs: the class is named after it). */
  fileName: string;
  code: string;
}

/** Every snippet for one request, in the order the playground shows them. */
export function generateSnippets(request: SnippetRequest): Snippet[] {
  return [
    { id: 'curl', label: 'cURL', language: 'bash', fileName: 'chat.sh', code: curlSnippet(request) },
    { id: 'python', label: 'Python', language: 'python', fileName: 'chat.py', code: pythonRequestsSnippet(request) },
    { id: 'node', label: 'Node fetch', language: 'javascript', fileName: 'chat.mjs', code: nodeFetchSnippet(request) },
    { id: 'java', label: 'Java', language: 'java', fileName: 'Chat.java', code: javaHttpSnippet(request) },
    { id: 'okhttp', label: 'Java OkHttp', language: 'java', fileName: 'ChatOkHttp.java', code: okHttpSnippet(request) },
    { id: 'openai-python', label: 'openai (Python)', language: 'python', fileName: 'chat_openai.py', code: openaiPythonSnippet(request) },
    { id: 'openai-node', label: 'openai (JS)', language: 'javascript', fileName: 'chat-openai.mjs', code: openaiNodeSnippet(request) },
  ];
}
