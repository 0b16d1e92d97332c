/**
 * Client code for exactly the request on the playground's screen: cURL, Python `requests`,
 * Node `fetch`, Java `java.net.http` and OkHttp, and the `openai` SDK for Python and
 * JavaScript. Pure functions of {baseUrl, body}; no imports, so the Node tests import this
 * file as it is and run every snippet against a real server (test/integration/snippets.test.ts).
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

export type ChatBody = Record<string, unknown>;

export interface SnippetRequest {
  /** The server's origin, such as `https://api.example.com` (no trailing slash). */
  baseUrl: string;
  /** The JSON body of POST /kimi/chat/completions. */
  body: ChatBody;
}

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

export const API_KEY_VARIABLE = 'MOONGATE_API_KEY';

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

function chatUrl(baseUrl: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/kimi/chat/completions`;
}

/** OpenAI SDKs append /chat/completions to their base URL; /v1 is moongate's path for them (README). */
function sdkBaseUrl(baseUrl: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/v1`;
}

function isStream(body: ChatBody): boolean {
  return body.stream === true;
}

/** Pretty JSON with the given indent on every line after the first. */
function indentedJson(value: unknown, indent: string): string {
  return JSON.stringify(value, null, 2).replace(/\n/g, `\n${indent}`);
}

// ---------------------------------------------------------------- cURL

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

// ---------------------------------------------------------------- Python

/**
 * A Python expression for a JSON value. JSON's string escapes are all valid in Python
 * string literals, and the source is UTF-8 (Python 3's default), so JSON.stringify quotes
 * strings correctly; only true/false/null and the layout differ.
 */
function pythonLiteral(value: unknown, indent = ''): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'None';
  if (typeof value === 'string') return JSON.stringify(value);
  const inner = `${indent}    `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((item) => `${inner}${pythonLiteral(item, inner)},`).join('\n')}\n${indent}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${pythonLiteral(v, inner)},`).join('\n')}\n${indent}}`;
}

export function pythonRequestsSnippet({ baseUrl, body }: SnippetRequest): string {
  const head = `import json
import os
import sys

import requests

url = ${JSON.stringify(chatUrl(baseUrl))}
headers = {"Authorization": "Bearer " + os.environ["${API_KEY_VARIABLE}"]}
payload = ${pythonLiteral(body)}
`;
  if (!isStream(body)) {
    return `${head}
response = requests.post(url, json=payload, headers=headers, timeout=600)
if not response.ok:
    sys.exit(f"HTTP {response.status_code}: {response.text}")
print(response.json()["choices"][0]["message"]["content"])
`;
  }
  return `${head}
with requests.post(url, json=payload, headers=headers, stream=True, timeout=600) as response:
    if not response.ok:
        sys.exit(f"HTTP {response.status_code}: {response.text}")
    reasoned = answered = False
    # Server-Sent Events: one "data: <json>" line per chunk, then "data: [DONE]".
    # Lines are decoded as UTF-8 here (requests would guess Latin-1 for text/event-stream).
    for raw in response.iter_lines():
        line = raw.decode("utf-8")
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            break
        chunk = json.loads(data)
        if "error" in chunk:
            sys.exit(f"stream failed: {chunk['error']}")
        for choice in chunk["choices"]:
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if reasoning:
                if not reasoned:
                    print("[reasoning]")
                    reasoned = True
                print(reasoning, end="", flush=True)
            content = delta.get("content")
            if content:
                if not answered:
                    if reasoned:
                        print("\\n[answer]")
                    answered = True
                print(content, end="", flush=True)
    print()
`;
}

/** openai-python's create() takes these as keyword arguments; anything else goes in extra_body. */
const OPENAI_PYTHON_PARAMETERS = new Set([
  'model', 'messages', 'stream', 'max_tokens', 'temperature', 'top_p', 'n', 'stop', 'presence_penalty',
  'frequency_penalty', 'seed', 'response_format', 'tools', 'tool_choice', 'logprobs', 'top_logprobs', 'user',
  'stream_options', 'logit_bias', 'parallel_tool_calls',
]);

export function openaiPythonSnippet({ baseUrl, body }: SnippetRequest): string {
  const known = Object.entries(body).filter(([k, v]) => OPENAI_PYTHON_PARAMETERS.has(k) && v !== undefined);
  const extra = Object.fromEntries(Object.entries(body).filter(([k, v]) => !OPENAI_PYTHON_PARAMETERS.has(k) && v !== undefined));
  const args = known.map(([k, v]) => `    ${k}=${pythonLiteral(v, '    ')},`);
  if (Object.keys(extra).length > 0) args.push(`    extra_body=${pythonLiteral(extra, '    ')},`);
  const head = `import os

from openai import OpenAI

client = OpenAI(base_url=${JSON.stringify(sdkBaseUrl(baseUrl))}, api_key=os.environ["${API_KEY_VARIABLE}"])

`;
  if (!isStream(body)) {
    return `${head}completion = client.chat.completions.create(
${args.join('\n')}
)
print(completion.choices[0].message.content)
`;
  }
  return `${head}stream = client.chat.completions.create(
${args.join('\n')}
)
reasoned = answered = False
for chunk in stream:
    for choice in chunk.choices:
        # Kimi's reasoning is an extra field of the delta, outside the SDK's types.
        reasoning = getattr(choice.delta, "reasoning_content", None)
        if reasoning:
            if not reasoned:
                print("[reasoning]")
                reasoned = True
            print(reasoning, end="", flush=True)
        if choice.delta.content:
            if not answered:
                if reasoned:
                    print("\\n[answer]")
                answered = True
            print(choice.delta.content, end="", flush=True)
print()
`;
}

// ---------------------------------------------------------------- JavaScript

/** JSON is a JavaScript expression (U+2028/2029 included, since ES2019). */
export function nodeFetchSnippet({ baseUrl, body }: SnippetRequest): string {
  const head = `// Node 18+ (fetch is built in). Run: node chat.mjs
const response = await fetch(${JSON.stringify(chatUrl(baseUrl))}, {
  method: "POST",
  headers: {
    "Authorization": \`Bearer \${process.env.${API_KEY_VARIABLE}}\`,
    "Content-Type": "application/json",
  },
  body: JSON.stringify(${indentedJson(body, '  ')}),
});
if (!response.ok) {
  console.error(\`HTTP \${response.status}: \${await response.text()}\`);
  process.exit(1);
}
`;
  if (!isStream(body)) {
    return `${head}const completion = await response.json();
console.log(completion.choices[0].message.content);
`;
  }
  return `${head}
// A stream is not one JSON document: read it line by line. Each event is a
// "data: <json>" line; "data: [DONE]" ends it.
const decoder = new TextDecoder();
let buffer = "";
let reasoned = false;
let answered = false;
read: for await (const bytes of response.body) {
  buffer += decoder.decode(bytes, { stream: true });
  const lines = buffer.split("\\n");
  buffer = lines.pop();
  for (const line of lines) {
    if (!line.startsWith("data:")) continue;
    const data = line.slice(5).trim();
    if (data === "[DONE]") break read;
    const chunk = JSON.parse(data);
    if (chunk.error) {
      console.error("stream failed:", chunk.error);
      process.exit(1);
    }
    for (const choice of chunk.choices) {
      const reasoning = choice.delta?.reasoning_content ?? choice.delta?.reasoning;
      if (reasoning) {
        if (!reasoned) process.stdout.write("[reasoning]\\n");
        reasoned = true;
        process.stdout.write(reasoning);
      }
      const content = choice.delta?.content;
      if (content) {
        if (!answered && reasoned) process.stdout.write("\\n[answer]\\n");
        answered = true;
        process.stdout.write(content);
      }
    }
  }
}
process.stdout.write("\\n");
`;
}

export function openaiNodeSnippet({ baseUrl, body }: SnippetRequest): string {
  const head = `// npm install openai. Run: node chat-openai.mjs
import OpenAI from "openai";

const client = new OpenAI({
  baseURL: ${JSON.stringify(sdkBaseUrl(baseUrl))},
  apiKey: process.env.${API_KEY_VARIABLE},
});

`;
  if (!isStream(body)) {
    return `${head}const completion = await client.chat.completions.create(${indentedJson(body, '')});
console.log(completion.choices[0].message.content);
`;
  }
  return `${head}const stream = await client.chat.completions.create(${indentedJson(body, '')});
let reasoned = false;
let answered = false;
for await (const chunk of stream) {
  for (const choice of chunk.choices) {
    // Kimi's reasoning is an extra field of the delta, outside the SDK's types.
    const reasoning = choice.delta.reasoning_content;
    if (reasoning) {
      if (!reasoned) process.stdout.write("[reasoning]\\n");
      reasoned = true;
      process.stdout.write(reasoning);
    }
    if (choice.delta.content) {
      if (!answered && reasoned) process.stdout.write("\\n[answer]\\n");
      answered = true;
      process.stdout.write(choice.delta.content);
    }
  }
}
process.stdout.write("\\n");
`;
}

// ---------------------------------------------------------------- Java

/**
 * A Java string literal. Everything outside printable ASCII becomes a \\uXXXX escape, so
 * the source compiles whatever javac's default encoding is; since every backslash is
 * doubled first, no \\u of the user's text can turn into a unicode escape.
 */
function javaString(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (char === '"') out += '\\"';
    else if (char === '\\') out += '\\\\';
    else if (char === '\n') out += '\\n';
    else if (char === '\r') out += '\\r';
    else if (char === '\t') out += '\\t';
    else if (code >= 0x20 && code < 0x7f) out += char;
    else {
      // Astral characters are two UTF-16 units, each its own escape.
      for (let i = 0; i < char.length; i++) out += `\\u${char.charCodeAt(i).toString(16).padStart(4, '0')}`;
    }
  }
  return `${out}"`;
}

/** The JSON body as Java string literals joined with +, one per line of pretty JSON. */
function javaJsonBody(body: ChatBody, indent: string): string {
  const lines = JSON.stringify(body, null, 2).split('\n');
  return lines.map((line, i) => `${i === 0 ? '' : `${indent}+ `}${javaString(i < lines.length - 1 ? `${line}\n` : line)}`).join('\n');
}

/**
 * The JDK has no JSON parser: the Java snippets carry a small one (objects, arrays,
 * strings with every escape, numbers, literals), so they run with the JDK alone. In a real
 * project, use Jackson or Gson instead.
 */
const JAVA_JSON_READER = `
    /** A minimal JSON reader (the JDK has none): objects are Maps, arrays Lists. Use Jackson or Gson in real code. */
    static final class Json {
        private final String s;
        private int i;

        private Json(String s) { this.s = s; }

        static Object parse(String text) { Json json = new Json(text); json.space(); return json.value(); }

        @SuppressWarnings("unchecked")
        static Object get(Object node, Object... path) {
            for (Object key : path) {
                if (node instanceof Map) node = ((Map<String, Object>) node).get((String) key);
                else if (node instanceof List && ((List<Object>) node).size() > (Integer) key) node = ((List<Object>) node).get((Integer) key);
                else return null;
            }
            return node;
        }

        private Object value() {
            char c = s.charAt(i);
            Object v;
            if (c == '{') {
                Map<String, Object> map = new LinkedHashMap<>();
                i++; space();
                while (s.charAt(i) != '}') {
                    String key = string(); space(); i++; space();
                    map.put(key, value());
                    if (s.charAt(i) == ',') { i++; space(); }
                }
                i++; v = map;
            } else if (c == '[') {
                List<Object> list = new ArrayList<>();
                i++; space();
                while (s.charAt(i) != ']') {
                    list.add(value());
                    if (s.charAt(i) == ',') { i++; space(); }
                }
                i++; v = list;
            } else if (c == '"') {
                v = string();
            } else if (s.startsWith("true", i)) { i += 4; v = Boolean.TRUE; }
            else if (s.startsWith("false", i)) { i += 5; v = Boolean.FALSE; }
            else if (s.startsWith("null", i)) { i += 4; v = null; }
            else {
                int start = i;
                while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) i++;
                v = Double.parseDouble(s.substring(start, i));
            }
            space();
            return v;
        }

        private String string() {
            StringBuilder out = new StringBuilder();
            i++;
            for (char c = s.charAt(i++); c != '"'; c = s.charAt(i++)) {
                if (c != '\\\\') { out.append(c); continue; }
                char e = s.charAt(i++);
                switch (e) {
                    case 'n': out.append('\\n'); break;
                    case 'r': out.append('\\r'); break;
                    case 't': out.append('\\t'); break;
                    case 'b': out.append('\\b'); break;
                    case 'f': out.append('\\f'); break;
                    case 'u': out.append((char) Integer.parseInt(s.substring(i, i + 4), 16)); i += 4; break;
                    default: out.append(e);
                }
            }
            return out.toString();
        }

        private void space() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
        }
    }
`;

/** The Java code shared by both clients: what one SSE line or one JSON answer prints. */
const JAVA_PRINTERS = `
    // Print UTF-8 whatever the platform's default charset is.
    static final PrintStream OUT = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
    static boolean reasoned = false;
    static boolean answered = false;

    /** One line of the event stream; returns false at data: [DONE]. */
    static boolean onLine(String line) {
        if (!line.startsWith("data:")) return true;
        String data = line.substring(5).trim();
        if (data.equals("[DONE]")) return false;
        Object chunk = Json.parse(data);
        if (Json.get(chunk, "error") != null) throw new IllegalStateException("stream failed: " + data);
        for (Object choice : (List<?>) Json.get(chunk, "choices")) {
            Object reasoning = Json.get(choice, "delta", "reasoning_content");
            if (reasoning instanceof String && !((String) reasoning).isEmpty()) {
                if (!reasoned) OUT.println("[reasoning]");
                reasoned = true;
                OUT.print(reasoning);
            }
            Object content = Json.get(choice, "delta", "content");
            if (content instanceof String && !((String) content).isEmpty()) {
                if (!answered && reasoned) OUT.print("\\n[answer]\\n");
                answered = true;
                OUT.print(content);
            }
            OUT.flush();
        }
        return true;
    }
`;

const JAVA_IMPORTS = `import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;`;

export function javaHttpSnippet({ baseUrl, body }: SnippetRequest): string {
  const stream = isStream(body);
  const send = stream
    ? `        HttpResponse<Stream<String>> response = client.send(request, HttpResponse.BodyHandlers.ofLines());
        if (response.statusCode() != 200) {
            System.err.println("HTTP " + response.statusCode() + ": " + response.body().collect(Collectors.joining("\\n")));
            System.exit(1);
        }
        // Server-Sent Events, read line by line: "data: <json>" lines, then "data: [DONE]".
        Iterator<String> lines = response.body().iterator();
        while (lines.hasNext() && onLine(lines.next())) { }
        OUT.println();`
    : `        HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        if (response.statusCode() != 200) {
            System.err.println("HTTP " + response.statusCode() + ": " + response.body());
            System.exit(1);
        }
        OUT.println(Json.get(Json.parse(response.body()), "choices", 0, "message", "content"));`;
  return `// Java 11+, the JDK only. Run: java Chat.java
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
${stream ? 'import java.util.Iterator;\nimport java.util.stream.Collectors;\nimport java.util.stream.Stream;\n' : ''}${JAVA_IMPORTS}

public class Chat {
    public static void main(String[] args) throws Exception {
        String body = ${javaJsonBody(body, '            ')};
        HttpRequest request = HttpRequest.newBuilder(URI.create(${javaString(chatUrl(baseUrl))}))
            .header("Authorization", "Bearer " + System.getenv("${API_KEY_VARIABLE}"))
            .header("Content-Type", "application/json")
            .timeout(Duration.ofMinutes(10))
            .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8))
            .build();
        HttpClient client = HttpClient.newHttpClient();
${send}
    }
${stream ? JAVA_PRINTERS : JAVA_PRINTERS_PLAIN}${JAVA_JSON_READER}}
`;
}

const JAVA_PRINTERS_PLAIN = `
    // Print UTF-8 whatever the platform's default charset is.
    static final PrintStream OUT = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
`;

export function okHttpSnippet({ baseUrl, body }: SnippetRequest): string {
  const stream = isStream(body);
  const read = stream
    ? `            // Server-Sent Events, read line by line: "data: <json>" lines, then "data: [DONE]".
            BufferedSource source = response.body().source();
            String line;
            while ((line = source.readUtf8Line()) != null && onLine(line)) { }
            OUT.println();`
    : `            OUT.println(Json.get(Json.parse(response.body().string()), "choices", 0, "message", "content"));`;
  return `// OkHttp 4 or 5 (com.squareup.okhttp3:okhttp). Run with okhttp and okio on the class path.
import java.time.Duration;
${stream ? 'import okio.BufferedSource;\n' : ''}import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
${JAVA_IMPORTS}

public class ChatOkHttp {
    public static void main(String[] args) throws Exception {
        String body = ${javaJsonBody(body, '            ')};
        Request request = new Request.Builder()
            .url(${javaString(chatUrl(baseUrl))})
            .header("Authorization", "Bearer " + System.getenv("${API_KEY_VARIABLE}"))
            .post(RequestBody.create(body, MediaType.get("application/json; charset=utf-8")))
            .build();
        // OkHttp's default read timeout (10 s) is shorter than a long answer takes.
        OkHttpClient client = new OkHttpClient.Builder().readTimeout(Duration.ofMinutes(10)).build();
        try (Response response = client.newCall(request).execute()) {
            if (response.code() != 200) {
                System.err.println("HTTP " + response.code() + ": " + response.body().string());
                System.exit(1);
            }
${read}
        }
    }
${stream ? JAVA_PRINTERS : JAVA_PRINTERS_PLAIN}${JAVA_JSON_READER}}
`;
}
