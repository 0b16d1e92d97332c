/** Python: with `requests`, and with the `openai` SDK. */
import { API_KEY_VARIABLE, chatUrl, isStream, sdkBaseUrl, type SnippetRequest } from './snippet-request.js';

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
