/** JavaScript on Node: with `fetch`, and with the `openai` SDK. */
import { API_KEY_VARIABLE, chatUrl, indentedJson, isStream, sdkBaseUrl, type SnippetRequest } from './snippet-request.js';

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
