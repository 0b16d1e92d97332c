/**
 * The early-end rule with real billing (docs/billing.md, "Early ends"): a client that leaves
 * a stream once the upstream accepted it pays the prompt and every token generated so far;
 * one that leaves before acceptance pays nothing; a non-stream request is not cut when its
 * client leaves: it runs to its end and pays the whole reply.
 * The case: kimi-k2-0711-preview, max_tokens 3000, the client gone mid-generation.
 */
import { request } from 'node:http';
import { afterEach, expect, it } from 'vitest';
import { costOf } from '../../src/billing/price-list.js';
import { countTextTokens } from '../../src/tokens/count-tokens.js';
import { ScriptedProvider, type ScriptStep } from '../helpers/scripted-provider.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

let moongate: TestServer | undefined;
afterEach(async () => {
  await moongate?.close();
  moongate = undefined;
});

const PIECES = ['Once', ' upon', ' a', ' time'];
const delta = (content: string): ScriptStep => ({ type: 'delta', index: 0, content });

async function until<T>(read: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 1_000; i++) {
    const value = await read();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Sends one request and destroys it (the client leaves) when the provider says so. */
function send(server: TestServer, stream: boolean): { leave(): void } {
  const req = request(`${server.url}/kimi/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${server.token}` },
  });
  req.on('error', () => undefined);
  req.end(JSON.stringify({ model: 'kimi-k2-0711-preview', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 3000, stream }));
  return { leave: () => req.destroy() };
}

/** What kimi-k2-0711-preview charges for the seed's prompt (9 tokens) and this many completion tokens. */
async function costFor(server: TestServer, completionTokens: number): Promise<number> {
  const price = await server.server.store.db.selectFrom('prices').selectAll().where('model', '=', 'kimi-k2-0711-preview').executeTakeFirstOrThrow();
  return costOf(
    { model: price.model, cachedInput: price.cached_input, input: price.input, output: price.output, cacheWrite: price.cache_write },
    { promptTokens: 9, cachedTokens: 0, completionTokens },
  );
}

/** Resolves once the server has no open connection left (it saw the client's close). */
async function serverSawClose(server: TestServer): Promise<void> {
  const http = server.server.app.server;
  await until(
    () => new Promise<true | undefined>((resolve, reject) => http.getConnections((error, count) => (error ? reject(error) : resolve(count === 0 ? true : undefined)))),
    'the server to see the close',
  );
}

async function usageRows(server: TestServer) {
  return server.server.store.db
    .selectFrom('usage')
    .select(['trace_id', 'status', 'stream', 'prompt_tokens', 'completion_tokens', 'cost'])
    .orderBy('created_at')
    .execute();
}

/** Runs one request that the client leaves after `pieces` pieces were generated; returns its usage row. */
async function leaveAfter(server: TestServer, provider: ScriptedProvider, stream: boolean, pieces: number, seen: number) {
  const call = send(server, stream);
  provider.onYield = (count) => {
    if (count === pieces) call.leave();
  };
  return until(async () => {
    const rows = await usageRows(server);
    return rows.length > seen ? rows[seen] : undefined;
  }, 'the usage row');
}

it('a stream the client left mid-generation pays its prompt and what was generated', async () => {
  // Three pieces generated, then the upstream is mid-generation (the wait) when the client leaves.
  const provider = new ScriptedProvider([
    { type: 'accept' },
    ...PIECES.slice(0, 3).map(delta),
    { type: 'wait', ms: 60_000 },
    ...PIECES.slice(3).map(delta),
    { type: 'finish', index: 0, reason: 'stop' },
  ]);
  moongate = await startTestServer({ provider });
  const streamed = await leaveAfter(moongate, provider, true, 3, 0);

  const completionTokens = countTextTokens(PIECES.slice(0, 3).join(''));
  const expected = await costFor(moongate, completionTokens);
  expect(expected).toBeGreaterThan(0);
  expect(streamed).toMatchObject({ status: 'aborted', stream: 'true', prompt_tokens: 9, completion_tokens: completionTokens, cost: expected });
  expect(provider.aborted).toHaveLength(1);
});

it('a non-stream request the client left runs to its end: the upstream is not cut, the whole reply is billed, the permit is kept until then', async () => {
  const provider = new ScriptedProvider([
    { type: 'accept' },
    ...PIECES.slice(0, 3).map(delta),
    { type: 'gate' },
    ...PIECES.slice(3).map(delta),
    { type: 'finish', index: 0, reason: 'stop' },
  ]);
  moongate = await startTestServer({ provider, env: { PERSON_CONCURRENCY_LIMIT: '1' } });
  const call = send(moongate, false);
  await provider.until(() => provider.atGate === 1);
  call.leave();
  await serverSawClose(moongate);
  // The call still runs for its person: a second request over the limit of 1 is refused.
  const second = await moongate.chat({ model: 'kimi-k2-0711-preview', messages: [{ role: 'user', content: 'Hello' }] });
  expect(second.status).toBe(429);

  provider.open();
  const plain = await until(async () => (await usageRows(moongate as TestServer))[0], 'the usage row');
  const completionTokens = countTextTokens(PIECES.join(''));
  expect(plain).toMatchObject({
    status: 'aborted',
    stream: 'false',
    prompt_tokens: 9,
    completion_tokens: completionTokens,
    cost: await costFor(moongate, completionTokens),
  });
  expect(provider.aborted).toHaveLength(0);
});

it('a request the client left during prefill pays its prompt; one left before the upstream accepted pays nothing', async () => {
  const provider = new ScriptedProvider([{ type: 'wait', ms: 60_000 }]);
  moongate = await startTestServer({ provider });
  const before = send(moongate, true);
  provider.onCall = () => before.leave();
  const unaccepted = await until(async () => (await usageRows(moongate as TestServer))[0], 'the first usage row');
  expect(unaccepted).toMatchObject({ status: 'aborted', prompt_tokens: 0, completion_tokens: 0, cost: 0 });
  await moongate.close();

  const accepting = new ScriptedProvider([{ type: 'accept' }, { type: 'wait', ms: 60_000 }]);
  moongate = await startTestServer({ provider: accepting });
  const prefill = send(moongate, true);
  accepting.onAccept = () => prefill.leave();
  const prompt = await until(async () => (await usageRows(moongate as TestServer))[0], 'the usage row');
  expect(prompt).toMatchObject({ status: 'aborted', prompt_tokens: 9, completion_tokens: 0 });
  expect(prompt.cost).toBeGreaterThan(0);
});
