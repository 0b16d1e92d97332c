/**
 * A long prompt is not counted before the upstream call (docs/billing.md, "Counting the
 * prompt"): moongate on port 0 with its real SQLite store, in front of a real HTTP fake
 * upstream on port 0. A prompt whose byte bound leaves no room in the context is held at the
 * context with the model's default cap, the upstream decides whether it fits (its 400 is
 * the client's 400, or, when the count shows a lower cap fits, the request goes once more
 * with it), and what is billed is exactly the upstream's usage, or the exact count when it
 * reports none.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SEED_PRICES, costOf, worstCaseCost } from '../../src/billing/price-list.js';
import { TRACE_ID_PATTERN, findModel } from '../../src/contract/index.js';
import { OpenAICompatibleProvider } from '../../src/providers/openai-compatible/index.js';
import { countPromptTokens } from '../../src/tokens/count-tokens.js';
import { FakeUpstream } from '../helpers/fake-upstream.js';
import { fundedCredential } from '../helpers/funded-credential.js';
import { openHoldsAmount } from '../helpers/open-holds.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

// 131,072 tokens of context, a default cap of 8,192.
const MODEL = 'kimi-k2-0711-preview';
const model = findModel(MODEL)!;
const price = SEED_PRICES.find((p) => p.model === MODEL)!;

/** "hello " is one o200k token: a prompt of about `tokens` tokens and 6 bytes a token, so its bound is 6 times its count. */
const promptOf = (tokens: number) => [{ role: 'user' as const, content: 'hello '.repeat(tokens) }];

const UPSTREAM_REFUSAL = JSON.stringify({
  error: { message: `Invalid request: Your request exceeded model token limit: ${model.contextTokens}`, type: 'invalid_request_error' },
});

/** A streamed reply of "Hi", with the upstream's usage when given. */
function sseReply(usage?: { prompt_tokens: number; completion_tokens: number }): string {
  const chunk = (body: Record<string, unknown>) => `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: MODEL, ...body })}\n\n`;
  return (
    chunk({ choices: [{ index: 0, delta: { role: 'assistant', content: 'Hi' }, finish_reason: null }] }) +
    chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }) +
    (usage === undefined ? '' : chunk({ choices: [], usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } })) +
    'data: [DONE]\n\n'
  );
}

let upstream: FakeUpstream;
let moongate: TestServer;
let people = 0;

beforeAll(async () => {
  upstream = await FakeUpstream.start();
  moongate = await startTestServer({ provider: new OpenAICompatibleProvider({ baseUrl: upstream.baseUrl }) });
});
afterAll(async () => {
  await moongate?.close();
  await upstream?.close();
});
afterEach(() => {
  upstream.requests.length = 0;
});

async function caller(balance: number) {
  return fundedCredential(moongate.server.store, `long-${++people}@example.com`, { balance });
}

function post(token: string, body: unknown): Promise<Response> {
  return fetch(`${moongate.url}/kimi/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
}

async function wallet(personId: string) {
  return moongate.server.store.db.selectFrom('wallets').select(['amount', 'held']).where('id', '=', personId).executeTakeFirstOrThrow();
}

async function usageRows(personId: string) {
  return moongate.server.store.db.selectFrom('usage').selectAll().where('person_id', '=', personId).execute();
}

/** The usage rows of a person, once one has arrived (settlement after a client left is asynchronous). */
async function settledRows(personId: string) {
  for (let i = 0; i < 500; i++) {
    const rows = await usageRows(personId);
    if (rows.length > 0) return rows;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('the usage row did not arrive');
}

/** The cap each upstream request carried. */
const capsSent = (): unknown[] => upstream.requests.map((r) => (r.body as { max_tokens?: unknown }).max_tokens);

describe('a prompt whose bound leaves no room in the context', () => {
  const messages = promptOf(30_000);
  const counted = countPromptTokens(messages);
  const contextHold = worstCaseCost(price, model.contextTokens, model.defaultMaxTokens, 1);
  const exactHold = worstCaseCost(price, counted, model.defaultMaxTokens, 1);

  it('is held at the context with the default cap, sent as it is, and billed exactly the usage the upstream reports', async () => {
    const { token, personId } = await caller(contextHold);
    upstream.stream(sseReply({ prompt_tokens: 30_123, completion_tokens: 2 }));
    const res = await post(token, { model: MODEL, messages });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { usage: { prompt_tokens: number } }).usage.prompt_tokens).toBe(30_123);
    expect(capsSent()).toEqual([model.defaultMaxTokens]);
    // Sent in pieces (the client's own token among them) under one content-length, not chunked.
    const sent = upstream.requests[0]!;
    expect((sent.body as { messages: Array<{ content: string }> }).messages[0]!.content).toBe(messages[0]!.content);
    expect(Number(sent.headers['content-length'])).toBeGreaterThan(messages[0]!.content.length);
    expect(sent.headers['transfer-encoding']).toBeUndefined();
    const cost = costOf(price, { promptTokens: 30_123, cachedTokens: 0, completionTokens: 2 });
    expect(await wallet(personId)).toEqual({ amount: contextHold - cost, held: 0 });
    expect(await usageRows(personId)).toEqual([expect.objectContaining({ prompt_tokens: 30_123, completion_tokens: 2, cost })]);
  });

  it('holds exactly the worst case at the context while the upstream works; a client that leaves is billed the exact count', async () => {
    const { token, personId } = await caller(10_000_000);
    // The role and first token, then nothing: the request stays at the upstream.
    upstream.stream(sseReply().split('\n\n')[0] + '\n\n', { hang: true });
    const client = new AbortController();
    const res = await fetch(`${moongate.url}/kimi/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ model: MODEL, messages, stream: true }),
      signal: client.signal,
    });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    // On SQLite the hold lives in the server's memory (docs/billing.md, "Hold"): /metrics shows it.
    expect((await wallet(personId)).amount).toBe(10_000_000);
    expect(await openHoldsAmount(moongate.server)).toBe(contextHold);
    client.abort();
    const rows = await settledRows(personId);
    expect(rows).toEqual([expect.objectContaining({ status: 'aborted', prompt_tokens: counted, completion_tokens: 1 })]);
    expect(await wallet(personId)).toEqual({ amount: 10_000_000 - (rows[0]?.cost ?? 0), held: 0 });
  });

  it('bills the exact count, after the response, when the upstream reports no usage', async () => {
    const { token, personId } = await caller(contextHold);
    upstream.stream(sseReply());
    const res = await post(token, { model: MODEL, messages });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { usage: { prompt_tokens: number } }).usage.prompt_tokens).toBe(counted);
    const [row] = await usageRows(personId);
    expect(row).toMatchObject({ prompt_tokens: counted, completion_tokens: 1 });
    expect(await wallet(personId)).toEqual({ amount: contextHold - (row?.cost ?? 0), held: 0 });
  });

  it('is held on its exact count when the balance does not cover the context, and refused only when it does not cover that', async () => {
    const enough = await caller(contextHold - 1);
    upstream.stream(sseReply({ prompt_tokens: counted, completion_tokens: 2 }));
    expect((await post(enough.token, { model: MODEL, messages })).status).toBe(200);
    expect(capsSent()).toEqual([model.defaultMaxTokens]);

    upstream.requests.length = 0;
    const short = await caller(exactHold - 1);
    const res = await post(short.token, { model: MODEL, messages });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('used_up');
    expect(upstream.requests).toHaveLength(0);
    expect(await wallet(short.personId)).toEqual({ amount: exactHold - 1, held: 0 });
  });
});

describe('the upstream decides whether a long prompt fits', () => {
  it('a prompt that fits only with a lower cap: refused with the default, sent once more with the cap the context leaves', async () => {
    const messages = promptOf(126_000);
    const left = model.contextTokens - countPromptTokens(messages);
    expect(left).toBeLessThan(model.defaultMaxTokens);
    const { token, personId } = await caller(10_000_000);
    upstream.reply({ status: 400, body: UPSTREAM_REFUSAL });
    upstream.stream(sseReply({ prompt_tokens: 126_009, completion_tokens: 2 }));
    const res = await post(token, { model: MODEL, messages });
    expect(res.status).toBe(200);
    expect(capsSent()).toEqual([model.defaultMaxTokens, left]);
    const cost = costOf(price, { promptTokens: 126_009, cachedTokens: 0, completionTokens: 2 });
    expect(await wallet(personId)).toEqual({ amount: 10_000_000 - cost, held: 0 });
  });

  it('a prompt beyond the context: the 400 envelope, with a trace id, and nothing billed', async () => {
    const messages = promptOf(140_000);
    const { token, personId } = await caller(10_000_000);
    upstream.reply({ status: 400, body: UPSTREAM_REFUSAL });
    const res = await post(token, { model: MODEL, messages });
    const body = (await res.json()) as { error: { code: string; message: string }; trace_id: string };
    expect(res.status).toBe(400);
    expect(body.error.code).toBe('bad_request');
    expect(body.error.message).toMatch(/^the prompt \(\d+ tokens\) plus max_tokens \(1\) exceeds kimi-k2-0711-preview's context of 131072 tokens$/);
    expect(body.trace_id).toMatch(TRACE_ID_PATTERN);
    expect(res.headers.get('x-trace-id')).toBe(body.trace_id);
    expect(capsSent()).toEqual([model.defaultMaxTokens]);
    expect(await wallet(personId)).toEqual({ amount: 10_000_000, held: 0 });
  });

  it("a prompt refused with the client's own max_tokens: the upstream's 400 as it is, not sent again", async () => {
    const messages = promptOf(126_000);
    const { token, personId } = await caller(10_000_000);
    upstream.reply({ status: 400, body: UPSTREAM_REFUSAL });
    const res = await post(token, { model: MODEL, messages, max_tokens: 8_000 });
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(res.status).toBe(400);
    expect(body.error).toMatchObject({ code: 'bad_request', message: expect.stringContaining('exceeded model token limit') });
    expect(capsSent()).toEqual([8_000]);
    expect(await wallet(personId)).toEqual({ amount: 10_000_000, held: 0 });
  });
});

describe('the body as text', () => {
  it('reaches the upstream as sent, ASCII or not (ASCII bodies are decoded without UTF-8 validation)', async () => {
    const { token } = await caller(10_000_000);
    const contents = ['plain ASCII, with "quotes" and a \\u00e9 escape', 'héllo 世界 😀 — non-ASCII bytes'];
    for (const content of contents) {
      upstream.stream(sseReply({ prompt_tokens: 9, completion_tokens: 1 }));
      expect((await post(token, { model: MODEL, messages: [{ role: 'user', content }] })).status).toBe(200);
    }
    expect(upstream.requests.map((r) => (r.body as { messages: Array<{ content: string }> }).messages[0]?.content)).toEqual(contents);
  });
});
