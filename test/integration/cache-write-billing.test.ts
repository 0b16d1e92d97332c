/**
 * Cache writes (issue 18): the upstream's cache_write_tokens reach the client as reported
 * (JSON and the stream's usage chunk), are billed at their own price in integer micro-units,
 * land in the usage log, and the hold covers a reply whose every prompt token is a cache
 * write, so a wallet funded with exactly the hold is never overspent.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { costOf, SEED_PRICES } from '../../src/billing/price-list.js';
import { setPrice } from '../../src/billing/price-store.js';
import type { ChatEvent } from '../../src/contract/index.js';
import { decodeSse } from '../../src/sse/index.js';
import { countTextTokens } from '../../src/tokens/count-tokens.js';
import { fundedCredential } from '../helpers/funded-credential.js';
import { ScriptedProvider } from '../helpers/scripted-provider.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

let moongate: TestServer | undefined;
afterEach(async () => {
  await moongate?.close();
  moongate = undefined;
});

const HELLO = { model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }] };

function post(server: TestServer, token: string, body: unknown): Promise<Response> {
  return fetch(`${server.url}/kimi/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
}

/** The usage object of a reply, JSON or stream (its usage chunk). */
async function usageOf(res: Response, stream: boolean): Promise<Record<string, unknown>> {
  expect(res.status).toBe(200);
  if (!stream) return ((await res.json()) as { usage: Record<string, unknown> }).usage;
  let usage: Record<string, unknown> = {};
  for await (const e of decodeSse(res.body as AsyncIterable<Uint8Array>)) {
    if (e.data === '[DONE]') break;
    const chunk = JSON.parse(e.data) as { usage: Record<string, unknown> | null };
    if (chunk.usage) usage = chunk.usage;
  }
  return usage;
}

async function rowsOf(server: TestServer, personId: string) {
  return server.server.store.db.selectFrom('usage').selectAll().where('person_id', '=', personId).orderBy('created_at').execute();
}

async function settled(server: TestServer, personId: string, count: number) {
  for (let i = 0; i < 500; i++) {
    const rows = await rowsOf(server, personId);
    if (rows.length >= count) return rows;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('the usage rows did not arrive');
}

const reply: ChatEvent[] = [
  { type: 'delta', index: 0, content: 'Hi.' },
  { type: 'finish', index: 0, reason: 'stop' },
];

describe('cache writes', () => {
  it('are passed through as reported and billed exactly at their own price', async () => {
    moongate = await startTestServer({
      provider: new ScriptedProvider([...reply, { type: 'usage', promptTokens: 1000, completionTokens: 201, cachedTokens: 300, cacheWriteTokens: 500 }]),
    });
    // Before the first request, so admission reads this price.
    await setPrice(moongate.server.store.db, { model: 'kimi-k2.5', cachedInput: 100_000, input: 600_000, output: 3_000_000, cacheWrite: 750_001 });
    const caller = await fundedCredential(moongate.server.store, 'cacher@example.com', { balance: 10_000_000 });
    for (const stream of [false, true]) {
      const usage = await usageOf(await post(moongate, caller.token, { ...HELLO, max_tokens: 1000, stream }), stream);
      expect(usage).toEqual({
        prompt_tokens: 1000,
        completion_tokens: 201,
        total_tokens: 1201,
        prompt_tokens_details: { cached_tokens: 300, cache_write_tokens: 500, cached_tokens_details: {} },
        completion_tokens_details: {},
      });
    }
    const rows = await settled(moongate, caller.personId, 2);
    // By hand: 300 cached × 100,000 + 500 written × 750,001 + 200 uncached × 600,000
    // + 201 completion × 3,000,000 = 30,000,000 + 375,000,500 + 120,000,000 + 603,000,000
    // = 1,128,000,500 micro-units × tokens / 1M → 1,128.0005, rounded up once: 1,129.
    for (const row of rows) {
      expect(row).toMatchObject({ prompt_tokens: 1000, cached_tokens: 300, cache_write_tokens: 500, completion_tokens: 201, cost: 1129 });
    }
    const wallet = await moongate.server.store.db.selectFrom('wallets').select(['amount', 'held']).where('id', '=', caller.personId).executeTakeFirstOrThrow();
    expect(wallet).toEqual({ amount: 10_000_000 - 2 * 1129, held: 0 });
  });

  it('a reply without cache writes keeps the seed usage shape and bills as before', async () => {
    moongate = await startTestServer({ provider: new ScriptedProvider([...reply, { type: 'usage', promptTokens: 9, completionTokens: 2, cachedTokens: 0 }]) });
    const caller = await fundedCredential(moongate.server.store, 'plain@example.com', { balance: 1_000_000 });
    const usage = await usageOf(await post(moongate, caller.token, HELLO), false);
    expect(usage).toEqual({
      prompt_tokens: 9,
      completion_tokens: 2,
      total_tokens: 11,
      prompt_tokens_details: { cached_tokens_details: {} },
      completion_tokens_details: {},
    });
    const [row] = await settled(moongate, caller.personId, 1);
    const seed = SEED_PRICES.find((p) => p.model === 'kimi-k2.5')!;
    // 9 × 600,000 + 2 × 3,000,000 = 11,400,000 → 11.4 → 12.
    expect(row).toMatchObject({ cache_write_tokens: 0, cost: 12 });
    expect(costOf(seed, { promptTokens: 9, cachedTokens: 0, completionTokens: 2 })).toBe(12);
  });

  it('holds every prompt token at the dearer cache-write price, so exactly that much is enough and nothing is overspent', async () => {
    // Every prompt token written to the cache, every completion token used.
    moongate = await startTestServer({
      provider: new ScriptedProvider([...reply, { type: 'usage', promptTokens: 9, completionTokens: 10, cacheWriteTokens: 9 }]),
    });
    await setPrice(moongate.server.store.db, { model: 'kimi-k2.5', cachedInput: 100_000, input: 600_000, output: 3_000_000, cacheWrite: 1_200_000 });
    const request = { ...HELLO, max_tokens: 10 };
    // Worst case: 9 prompt × max(600,000, 1,200,000) + 10 × 3,000,000 = 40,800,000 → 40.8 → 41.
    // (At the input price alone it would be 35.4 → 36: a hold that small would be overspent.)
    const short = await fundedCredential(moongate.server.store, 'short@example.com', { balance: 40 });
    const refused = await post(moongate, short.token, request);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('used_up');
    expect(await rowsOf(moongate, short.personId)).toHaveLength(0);

    const exact = await fundedCredential(moongate.server.store, 'exact@example.com', { balance: 41 });
    await usageOf(await post(moongate, exact.token, request), false);
    const [row] = await settled(moongate, exact.personId, 1);
    expect(row).toMatchObject({ prompt_tokens: 9, cache_write_tokens: 9, completion_tokens: 10, cost: 41 });
    const wallet = await moongate.server.store.db.selectFrom('wallets').select(['amount', 'held']).where('id', '=', exact.personId).executeTakeFirstOrThrow();
    expect(wallet).toEqual({ amount: 0, held: 0 });
  });
});

describe('the simulator with prompt_cache_options', () => {
  const SYSTEM = 'You are a careful assistant who answers in one short sentence.';
  const prefixTokens = countTextTokens(SYSTEM) + 4;

  it('writes the prefix on a first turn and reads it from the cache on a later one; without the option, neither', async () => {
    moongate = await startTestServer();
    const caller = await fundedCredential(moongate.server.store, 'sim@example.com', { balance: 10_000_000 });
    const first = { model: 'kimi-k2.5', messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content: 'Hello' }], prompt_cache_options: { ttl: '5m' } };
    for (const stream of [false, true]) {
      const usage = await usageOf(await post(moongate, caller.token, { ...first, stream }), stream);
      expect(usage.prompt_tokens_details).toEqual({ cache_write_tokens: prefixTokens, cached_tokens_details: {} });
    }
    const later = {
      ...first,
      messages: [...first.messages, { role: 'assistant', content: 'Hello!' }, { role: 'user', content: 'And again?' }],
    };
    const laterUsage = await usageOf(await post(moongate, caller.token, later), false);
    const details = laterUsage.prompt_tokens_details as Record<string, unknown>;
    expect(details.cache_write_tokens).toBeUndefined();
    expect(details.cached_tokens).toBeGreaterThan(prefixTokens);
    const { prompt_cache_options: _, ...uncached } = first;
    expect((await usageOf(await post(moongate, caller.token, uncached), false)).prompt_tokens_details).toEqual({ cached_tokens_details: {} });

    const rows = await settled(moongate, caller.personId, 4);
    expect(rows.map((r) => r.cache_write_tokens)).toEqual([prefixTokens, prefixTokens, 0, 0]);
    const price = SEED_PRICES.find((p) => p.model === 'kimi-k2.5')!;
    for (const r of rows) {
      expect(r.cost).toBe(
        costOf(price, { promptTokens: r.prompt_tokens, cachedTokens: r.cached_tokens, cacheWriteTokens: r.cache_write_tokens, completionTokens: r.completion_tokens }),
      );
    }
  });
});
