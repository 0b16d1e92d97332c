/**
 * Usage: upstream-reported counts win; what the upstream leaves out is counted locally.
 * Stream and non-stream are built from the same events and agree.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ChatEvent } from '../../src/contract/index.js';
import { decodeSse } from '../../src/sse/index.js';
import { countTextTokens } from '../../src/tokens/count-tokens.js';
import { ScriptedProvider } from '../helpers/scripted-provider.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

let moongate: TestServer | undefined;
afterEach(async () => {
  await moongate?.close();
  moongate = undefined;
});

const reply: ChatEvent[] = [
  { type: 'delta', index: 0, reasoning: 'Let me think about the greeting.' },
  { type: 'delta', index: 0, content: 'Hello there, friend!' },
  { type: 'delta', index: 0, toolCalls: [{ index: 0, id: 'call_1', name: 'lookup', arguments: '{"q":' }] },
  { type: 'delta', index: 0, toolCalls: [{ index: 0, arguments: '"x"}' }] },
  { type: 'finish', index: 0, reason: 'tool_calls' },
];

async function complete(server: TestServer, stream: boolean): Promise<{ usage: Record<string, unknown>; message?: Record<string, unknown> }> {
  const res = await server.chat({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }], stream });
  expect(res.status).toBe(200);
  if (!stream) {
    const body = (await res.json()) as { usage: Record<string, unknown>; choices: { message: Record<string, unknown> }[] };
    return { usage: body.usage, message: body.choices[0]?.message ?? {} };
  }
  let usage: Record<string, unknown> = {};
  for await (const e of decodeSse(res.body as AsyncIterable<Uint8Array>)) {
    if (e.data === '[DONE]') break;
    const chunk = JSON.parse(e.data) as { usage: Record<string, unknown> | null };
    if (chunk.usage) usage = chunk.usage;
  }
  return { usage };
}

describe('usage', () => {
  it('counts locally when the upstream reports none', async () => {
    moongate = await startTestServer({ provider: new ScriptedProvider(reply) });
    const expected = countTextTokens('Let me think about the greeting.Hello there, friend!{"q":"x"}');
    for (const stream of [false, true]) {
      const { usage } = await complete(moongate, stream);
      expect(usage).toMatchObject({ prompt_tokens: 9, completion_tokens: expected, total_tokens: 9 + expected });
    }
  });

  it('takes the upstream figures when reported, cached tokens included', async () => {
    moongate = await startTestServer({
      provider: new ScriptedProvider([...reply, { type: 'usage', promptTokens: 11, completionTokens: 40, cachedTokens: 8 }]),
    });
    for (const stream of [false, true]) {
      const { usage } = await complete(moongate, stream);
      expect(usage).toEqual({
        prompt_tokens: 11,
        completion_tokens: 40,
        total_tokens: 51,
        prompt_tokens_details: { cached_tokens: 8, cached_tokens_details: {} },
        completion_tokens_details: {},
      });
    }
  });

  it('aggregates tool-call fragments in the non-stream message', async () => {
    moongate = await startTestServer({ provider: new ScriptedProvider(reply) });
    const { message } = await complete(moongate, false);
    expect(message).toEqual({
      role: 'assistant',
      content: 'Hello there, friend!',
      refusal: null,
      reasoning_content: 'Let me think about the greeting.',
      reasoning: 'Let me think about the greeting.',
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{"q":"x"}' } }],
    });
  });
});
