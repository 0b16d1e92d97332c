/**
 * Issue 15, item 3: one long word in any text field of a request must neither freeze the
 * server nor come back to its sender in full. Each field gets a 1 MiB one-word string (mixed
 * scripts and an emoji, so graphemes span several UTF-16 units); the request must complete,
 * served or refused with a 4xx envelope, and /healthz must be answered alongside it. On the
 * old code the tool description, tool result, enum and pattern cases ran for minutes (the
 * simulator's quoting and o200k encoding were superlinear), so these tests time out there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRACE_ID_PATTERN } from '../../src/contract/index.js';
import { decodeSse } from '../../src/sse/index.js';
import { fundedCredential } from '../helpers/funded-credential.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const MIB = 1024 * 1024;
/**
 * One word of 1 MiB UTF-16 units, no space anywhere: mostly Latin letters (so its ~135,000
 * tokens fit a 262,144-token context and the request reaches the simulator), with Greek, an
 * astral emoji and Hangul every kilobyte.
 */
const WORD = `${'a'.repeat(1020)}Ω😀한`.repeat(1024);

let moongate: TestServer;
let token: string;

beforeAll(async () => {
  moongate = await startTestServer({ env: { MAX_BODY_BYTES: String(16 * MIB) } });
  ({ token } = await fundedCredential(moongate.server.store, 'long-words@example.com', { balance: 1_000_000_000_000 }));
});
afterAll(async () => {
  await moongate?.close();
});

type Body = Record<string, unknown> & { messages: Record<string, unknown>[] };

const base = (): Body => ({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'What is the weather in Paris?' }] });
const tool = (fn: Record<string, unknown>): Record<string, unknown>[] => [{ type: 'function', function: { name: 'get_weather', ...fn } }];
const stringParameter = (schema: Record<string, unknown>): Record<string, unknown> => ({
  parameters: { type: 'object', properties: { city: { type: 'string', ...schema } }, required: ['city'] },
});
const callThenResult = (call: { id?: string; arguments?: string }, result: string): Record<string, unknown>[] => [
  { role: 'assistant', content: null, tool_calls: [{ id: call.id ?? 'call_1', type: 'function', function: { name: 'get_weather', arguments: call.arguments ?? '{}' } }] },
  { role: 'tool', tool_call_id: call.id ?? 'call_1', content: result },
];

/** Each text field a request has, with the long word in it, and whether moongate serves or refuses it. */
/** `served`, or refused with this status; `fits` is served unless the word, counted twice, overflows the context (400). */
const FIELDS: { field: string; outcome: 'served' | 'fits' | 400 | 404; body: (b: Body) => void }[] = [
  { field: 'messages[].content (user)', outcome: 'served', body: (b) => void (b.messages[0] = { role: 'user', content: WORD }) },
  { field: 'messages[].content (system)', outcome: 'served', body: (b) => void b.messages.unshift({ role: 'system', content: WORD }) },
  { field: 'messages[].content[].text', outcome: 'served', body: (b) => void (b.messages[0] = { role: 'user', content: [{ type: 'text', text: WORD }] }) },
  { field: 'messages[].content[].type', outcome: 400, body: (b) => void (b.messages[0] = { role: 'user', content: [{ type: WORD, text: 'x' }] }) },
  { field: 'messages[].name', outcome: 400, body: (b) => void ((b.messages[0] as Record<string, unknown>).name = WORD) },
  { field: 'messages[].role', outcome: 400, body: (b) => void ((b.messages[0] as Record<string, unknown>).role = WORD) },
  { field: 'messages[].reasoning_content', outcome: 'served', body: (b) => void b.messages.push({ role: 'assistant', content: 'ok', reasoning_content: WORD }, { role: 'user', content: 'and now?' }) },
  { field: 'messages[].content (partial assistant prefix)', outcome: 'served', body: (b) => void b.messages.push({ role: 'assistant', content: WORD, partial: true }) },
  { field: 'tools[].function.description', outcome: 'served', body: (b) => void (b.tools = tool({ description: WORD, ...stringParameter({}) })) },
  { field: 'tools[].function.name', outcome: 400, body: (b) => void (b.tools = [{ type: 'function', function: { name: WORD } }]) },
  { field: 'tools[].function.parameters description', outcome: 'served', body: (b) => void (b.tools = tool(stringParameter({ description: WORD }))) },
  { field: 'tools[].function.parameters pattern', outcome: 'served', body: (b) => void (b.tools = tool(stringParameter({ pattern: WORD }))) },
  { field: 'tools[].function.parameters enum', outcome: 'served', body: (b) => void (b.tools = tool(stringParameter({ enum: [WORD] }))) },
  { field: 'tools[].function.parameters const', outcome: 'served', body: (b) => void (b.tools = tool(stringParameter({ const: WORD }))) },
  { field: 'tools[].function.parameters property name', outcome: 400, body: (b) => void (b.tools = tool({ parameters: { type: 'object', properties: { [WORD]: { type: 'string' } }, required: [WORD] } })) },
  { field: 'tool_choice.function.name', outcome: 400, body: (b) => void ((b.tools = tool({})), (b.tool_choice = { type: 'function', function: { name: WORD } })) },
  { field: 'messages[].tool_calls[].function.arguments', outcome: 'served', body: (b) => void b.messages.push(...callThenResult({ arguments: WORD }, 'sunny')) },
  { field: 'messages[].tool_calls[].id and tool_call_id', outcome: 'fits', body: (b) => void b.messages.push(...callThenResult({ id: WORD }, 'sunny')) },
  { field: 'messages[].content (tool result)', outcome: 'served', body: (b) => void b.messages.push(...callThenResult({}, WORD)) },
  { field: 'stop (string)', outcome: 400, body: (b) => void (b.stop = WORD) },
  { field: 'stop (array)', outcome: 400, body: (b) => void (b.stop = ['x', WORD]) },
  { field: 'user', outcome: 400, body: (b) => void (b.user = WORD) },
  { field: 'model', outcome: 404, body: (b) => void (b.model = WORD) },
  { field: 'response_format with the word as the message', outcome: 'served', body: (b) => void ((b.response_format = { type: 'json_object' }), (b.messages[0] = { role: 'user', content: WORD })) },
];

async function post(body: unknown): Promise<Response> {
  return fetch(`${moongate.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
}

describe('a 1 MiB one-word string in each text field', () => {
  for (const { field, outcome, body } of FIELDS) {
    it(`${field}: ${typeof outcome === 'string' ? outcome : `refused with ${outcome}`}, and /healthz answers alongside`, async () => {
      const request = base();
      body(request);
      const heavy = post(request).then(async (res) => ({ res, text: await res.text() }));
      const health = fetch(`${moongate.url}/healthz`).then(async (res) => ({ status: res.status, text: await res.text() }));
      const [{ res, text }, healthz] = await Promise.all([heavy, health]);
      expect(healthz.status).toBe(200);

      expect(res.headers.get('x-trace-id')).toMatch(TRACE_ID_PATTERN);
      // Nothing sends the word back: replies quote a few words of it, errors a few characters.
      expect(text.length).toBeLessThan(res.status === 200 ? WORD.length : 1000);
      if (outcome === 'fits' && res.status !== 200) expect(text).toContain('context');
      if (outcome === 'served' || (outcome === 'fits' && res.status === 200)) {
        expect(res.status, text.slice(0, 300)).toBe(200);
        const completion = JSON.parse(text) as { choices: { message: { content: string | null; tool_calls: unknown[] } }[] };
        expect(completion.choices).toHaveLength(1);
      } else {
        if (outcome !== 'fits') expect(res.status, text.slice(0, 300)).toBe(outcome);
        const envelope = JSON.parse(text) as { success: boolean; trace_id: string };
        expect(envelope.success).toBe(false);
        expect(envelope.trace_id).toBe(res.headers.get('x-trace-id'));
      }
    });
  }

  it('streams a reply that quotes a 1 MiB tool description by a few words only', async () => {
    const request = { ...base(), stream: true, tools: tool({ description: WORD, ...stringParameter({}) }) };
    const res = await post(request);
    expect(res.status).toBe(200);
    let reasoning = '';
    for await (const event of decodeSse(res.body as unknown as AsyncIterable<Uint8Array>)) {
      if (event.data === '[DONE]') break;
      const chunk = JSON.parse(event.data) as { choices: { delta: { reasoning_content?: string } }[] };
      reasoning += chunk.choices[0]?.delta.reasoning_content ?? '';
    }
    expect(reasoning).toContain('is described as “aaaa');
    expect(reasoning.length).toBeLessThan(1000);
  });
});
