/**
 * Every key and type of the seed's JSON examples, compared with what moongate sends.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPLETION_ID_PATTERN, TRACE_ID_PATTERN } from '../../src/contract/index.js';
import { decodeSse } from '../../src/sse/index.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function fixture(name: string): Json {
  return JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')) as Json;
}

function kind(value: Json): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** The shape of a JSON value: keys in order and the type of every leaf. */
function shape(value: Json): unknown {
  if (Array.isArray(value)) return value.length === 0 ? [] : [shape(value[0] as Json)];
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).map(([k, v]) => [k, shape(v)]);
  }
  return kind(value);
}

/** The seed's stream, as recorded in the seed document. */
function seedChunks(): Json[] {
  const seed = readFileSync(new URL('../fixtures/seed.txt', import.meta.url), 'utf8');
  return [...seed.matchAll(/^data: (\{.*\})$/gm)].map((m) => JSON.parse(m[1] ?? '') as Json);
}

let moongate: TestServer;

beforeAll(async () => {
  moongate = await startTestServer();
});
afterAll(async () => {
  await moongate?.close();
});

async function post(body: unknown): Promise<Response> {
  return fetch(`${moongate.url}/kimi/chat/completions`, {
    method: 'POST',
    headers: { accept: 'application/json', authorization: `Bearer ${moongate.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

describe('response shape matches the seed', () => {
  it('non-stream "Hello": same keys, order and types; prompt_tokens 9', async () => {
    const res = await post({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }] });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-trace-id')).toMatch(TRACE_ID_PATTERN);
    const body = (await res.json()) as Json & Record<string, Json>;
    const seed = fixture('seed-response-hello.json');
    expect(shape(body)).toEqual(shape(seed));
    expect(body.id).toMatch(COMPLETION_ID_PATTERN);
    const usage = body.usage as Record<string, Json>;
    expect(usage.prompt_tokens).toBe(9);
    expect(usage.prompt_tokens_details).toEqual({ cached_tokens_details: {} });
    expect(usage.completion_tokens_details).toEqual({});
    const choice = (body.choices as Record<string, Json>[])[0] ?? {};
    const message = choice.message as Record<string, Json>;
    expect(message.refusal).toBeNull();
    expect(message.tool_calls).toEqual([]);
    expect(choice.logprobs).toBeNull();
    expect(message.reasoning).toBe(message.reasoning_content);
    expect(Math.abs(Number(body.created) - Date.now() / 1000)).toBeLessThan(60);
  });

  it('non-stream multi-turn: same shape as the seed; prompt_tokens 28', async () => {
    const res = await post({
      model: 'kimi-k2.5',
      messages: [
        { role: 'assistant', content: 'Hello! How can I help you today?' },
        { role: 'user', content: 'What model are you?' },
      ],
    });
    const body = (await res.json()) as Json & Record<string, Json>;
    expect(shape(body)).toEqual(shape(fixture('seed-response-multi-turn.json')));
    expect((body.usage as Record<string, Json>).prompt_tokens).toBe(28);
  });

  it('stream: every chunk has the shape of its counterpart in the seed stream', async () => {
    const res = await post({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }], stream: true });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('x-trace-id')).toMatch(TRACE_ID_PATTERN);
    const events = [];
    for await (const e of decodeSse(res.body as AsyncIterable<Uint8Array>)) events.push(e.data);
    expect(events.at(-1)).toBe('[DONE]');
    const ours = events.slice(0, -1).map((d) => JSON.parse(d) as Json & Record<string, Json>);
    const seed = seedChunks() as (Json & Record<string, Json>)[];

    // 1. the role chunk, 2. reasoning chunks, 3. content chunks, 5. finish, 6. usage: seed order.
    const first = ours[0];
    expect(first && shape(first)).toEqual(shape(seed[0] ?? null));
    expect((first?.choices as Record<string, Json>[])[0]?.delta).toEqual({ content: '', role: 'assistant' });

    const reasoningChunk = ours.find((c) => JSON.stringify(c).includes('"reasoning_content"'));
    expect(reasoningChunk && shape(reasoningChunk)).toEqual(shape(seed[1] ?? null));
    const reasoningDelta = (reasoningChunk?.choices as Record<string, Json>[])[0]?.delta as Record<string, Json>;
    expect(reasoningDelta.reasoning).toBe(reasoningDelta.reasoning_content);

    const usageChunk = ours.at(-1);
    expect(usageChunk && shape(usageChunk)).toEqual(shape(seed.at(-1) ?? null));
    expect(usageChunk?.choices).toEqual([]);
    expect((usageChunk?.usage as Record<string, Json>).prompt_tokens).toBe(9);

    const ids = new Set(ours.map((c) => c.id));
    expect(ids.size).toBe(1);
    for (const c of ours.slice(0, -1)) {
      expect(c.usage).toBeNull();
      expect(c.system_fingerprint).toBeNull();
      expect(c.object).toBe('chat.completion.chunk');
    }
    const finishes = ours.flatMap((c) => (c.choices as Record<string, Json>[]).map((ch) => ch.finish_reason)).filter((f) => f !== null);
    expect(finishes).toEqual(['stop']);
  });

  it('an error has the seed envelope, and its trace_id is the x-trace-id header', async () => {
    const res = await fetch(`${moongate.url}/kimi/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer mg-wrong' },
      body: JSON.stringify({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }] }),
    });
    const body = (await res.json()) as Json & Record<string, Json>;
    expect(shape(body)).toEqual(shape(fixture('seed-error.json')));
    expect(body.trace_id).toMatch(TRACE_ID_PATTERN);
    expect(res.headers.get('x-trace-id')).toBe(body.trace_id);
  });
});
