/**
 * Billing through real HTTP: what an abandoned stream is billed, failed requests cost
 * nothing, the per-credential limits, refused credentials never hold or bill, and the
 * quota-then-balance order of a service credential.
 */
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { CredentialStore } from '../../src/accounts/credential-store.js';
import { costOf, SEED_PRICES } from '../../src/billing/price-list.js';
import { MoongateError } from '../../src/contract/errors.js';
import { newId } from '../../src/store/new-id.js';
import { countTextTokens } from '../../src/tokens/count-tokens.js';
import { fundedCredential } from '../helpers/funded-credential.js';
import { GatedProvider } from '../helpers/gated-provider.js';
import { ScriptedProvider } from '../helpers/scripted-provider.js';
import { openHoldsAmount } from '../helpers/open-holds.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

let moongate: TestServer | undefined;
afterEach(async () => {
  await moongate?.close();
  moongate = undefined;
});

const HELLO = { model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }] };
const PRICE = SEED_PRICES.find((p) => p.model === 'kimi-k2.5') ?? SEED_PRICES[0]!;

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 1_000; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function post(server: TestServer, token: string, body: unknown): Promise<Response> {
  return fetch(`${server.url}/kimi/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
}

async function usageOf(server: TestServer, personId: string) {
  return server.server.store.db.selectFrom('usage').selectAll().where('person_id', '=', personId).orderBy('created_at').execute();
}

async function walletOf(server: TestServer, id: string) {
  return server.server.store.db.selectFrom('wallets').select(['amount', 'held']).where('id', '=', id).executeTakeFirstOrThrow();
}

describe('abandoned streams', () => {
  it('aborts the upstream and bills what was generated; the hold is gone', async () => {
    const provider = new ScriptedProvider([
      { type: 'delta', index: 0, reasoning: 'The user greets me.' },
      { type: 'delta', index: 0, content: 'Hello there, how are you' },
      { type: 'wait', ms: 60_000 },
      { type: 'delta', index: 0, content: ' never generated' },
    ]);
    moongate = await startTestServer({ provider });
    const caller = await fundedCredential(moongate.server.store, 'leaver@example.com', { balance: 1_000_000 });
    let received = '';
    const req = request(`${moongate.url}/kimi/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${caller.token}` },
    });
    req.on('response', (res) => {
      res.setEncoding('utf8');
      res.on('data', (text: string) => {
        received += text;
        // Leave after the second content-bearing chunk.
        if (received.includes('how are you')) req.destroy();
      });
    });
    req.on('error', () => {});
    req.end(JSON.stringify({ ...HELLO, stream: true }));

    await until(() => provider.aborted.length === 1, 'the upstream abort');
    await until(async () => (await usageOf(moongate!, caller.personId)).length === 1, 'the usage row');
    const [row] = await usageOf(moongate, caller.personId);
    const completionTokens = countTextTokens('The user greets me.Hello there, how are you');
    expect(row).toMatchObject({
      status: 'aborted',
      stream: 'true',
      error_code: null,
      prompt_tokens: 9,
      completion_tokens: completionTokens,
      cost: costOf(PRICE, { promptTokens: 9, cachedTokens: 0, completionTokens }),
    });
    expect(row?.cost).toBeGreaterThan(0);
    expect(await walletOf(moongate, caller.personId)).toEqual({ amount: 1_000_000 - (row?.cost ?? 0), held: 0 });
    expect(await moongate.server.store.db.selectFrom('holds').selectAll().execute()).toEqual([]);
  });

  it('a request that fails before its first chunk costs nothing but is logged', async () => {
    const provider = new ScriptedProvider([{ type: 'throw', error: new MoongateError('timeout') }]);
    moongate = await startTestServer({ provider });
    const caller = await fundedCredential(moongate.server.store, 'unlucky@example.com', { balance: 1_000_000 });
    const res = await post(moongate, caller.token, HELLO);
    expect(res.status).toBe(504);
    const rows = await usageOf(moongate, caller.personId);
    expect(rows).toMatchObject([{ status: 'failed', error_code: 'timeout', cost: 0, completion_tokens: 0, trace_id: res.headers.get('x-trace-id') }]);
    expect(await walletOf(moongate, caller.personId)).toEqual({ amount: 1_000_000, held: 0 });
  });

  it('a stream that fails mid-way bills what it sent', async () => {
    const provider = new ScriptedProvider([
      { type: 'delta', index: 0, content: 'Half an answer' },
      { type: 'throw', error: new MoongateError('api_error') },
    ]);
    moongate = await startTestServer({ provider });
    const caller = await fundedCredential(moongate.server.store, 'half@example.com', { balance: 1_000_000 });
    const res = await post(moongate, caller.token, { ...HELLO, stream: true });
    expect(await res.text()).toContain('"code":"api_error"');
    const completionTokens = countTextTokens('Half an answer');
    const [row] = await usageOf(moongate, caller.personId);
    expect(row).toMatchObject({
      status: 'failed',
      error_code: 'api_error',
      completion_tokens: completionTokens,
      cost: costOf(PRICE, { promptTokens: 9, cachedTokens: 0, completionTokens }),
    });
  });
});

describe('limits', () => {
  it('the 21st concurrent request gets 429 with retry-after, and is not held or billed', async () => {
    const provider = new GatedProvider();
    moongate = await startTestServer({ provider });
    const caller = await fundedCredential(moongate.server.store, 'busy@example.com', { balance: 100_000_000 });
    const running = Array.from({ length: 20 }, () => post(moongate!, caller.token, { ...HELLO, max_tokens: 10 }));
    await until(() => provider.calls === 20, '20 running requests');
    const refused = await post(moongate, caller.token, { ...HELLO, max_tokens: 10 });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('too_many_requests');
    // ceil(9 × 0.6 + 10 × 3.0) = 36 micro-units held for each running request, none for the refused one.
    expect(await openHoldsAmount(moongate.server)).toBe(20 * 36);
    // On SQLite the holds are in the server's memory; the wallet's `held` is written with settlements.
    expect(await walletOf(moongate, caller.personId)).toEqual({ amount: 100_000_000, held: 0 });
    provider.open();
    expect((await Promise.all(running)).map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(await usageOf(moongate, caller.personId)).toHaveLength(20);
    // The slots came back: the next request runs.
    expect((await post(moongate, caller.token, { ...HELLO, max_tokens: 10 })).status).toBe(200);
  });

  it('an operator-set concurrency applies to the credential', async () => {
    const provider = new GatedProvider();
    moongate = await startTestServer({ provider });
    const caller = await fundedCredential(moongate.server.store, 'narrow@example.com', { balance: 100_000_000, concurrency: 2 });
    const running = [post(moongate, caller.token, HELLO), post(moongate, caller.token, HELLO)];
    await until(() => provider.calls === 2, '2 running requests');
    expect((await post(moongate, caller.token, HELLO)).status).toBe(429);
    provider.open();
    await Promise.all(running);
  });

  it('a burst over 60 rps gets 429s, and no one-second window admits more than 60', async () => {
    moongate = await startTestServer({ provider: new ScriptedProvider([{ type: 'finish', index: 0, reason: 'stop' }]) });
    const caller = await fundedCredential(moongate.server.store, 'burst@example.com', { balance: 100_000_000, concurrency: 1_000 });
    const statuses = await Promise.all(
      Array.from({ length: 150 }, async () => {
        const res = await post(moongate!, caller.token, { ...HELLO, max_tokens: 10 });
        if (res.status === 429) expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        await res.arrayBuffer();
        return res.status;
      }),
    );
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    const admitted = (await usageOf(moongate, caller.personId)).map((r) => r.created_at).sort((a, b) => a - b);
    expect(admitted).toHaveLength(statuses.filter((s) => s === 200).length);
    // Sliding window: whatever second you pick, at most 60 admissions in it (1 ms of slack
    // for the limiter's monotonic clock against the wall clock of the rows).
    for (let i = 0; i < admitted.length; i++) {
      const inWindow = admitted.filter((t) => t >= (admitted[i] ?? 0) && t < (admitted[i] ?? 0) + 999).length;
      expect(inWindow).toBeLessThanOrEqual(60);
    }
  });
});

describe('credentials that are refused', () => {
  it('token mismatch, expired and revoked tokens are refused before anything is held or billed', async () => {
    moongate = await startTestServer();
    const { db } = moongate.server.store;
    const caller = await fundedCredential(moongate.server.store, 'refused@example.com', { balance: 1_000_000, scope: 'service' });
    await db.insertInto('services').values({ id: newId('svc'), slug: 'other-api', name: 'Other', status: 'active', created_at: Date.now() }).execute();
    const credentials = new CredentialStore(db);
    const expiring = await credentials.issueCredential({ personId: caller.personId, serviceSlug: 'kimi-chat-completions', expiresAt: Date.now() + 60_000 });
    await db.updateTable('credentials').set({ expires_at: Date.now() - 1 }).where('id', '=', expiring.credential.id).execute();
    const revoked = await credentials.issueCredential({ personId: caller.personId, serviceSlug: 'kimi-chat-completions' });
    await credentials.revokeCredential(revoked.credential.id);
    const other = await credentials.issueCredential({ personId: caller.personId, serviceSlug: 'other-api' });

    const codes: string[] = [];
    for (const token of [other.token, expiring.token, revoked.token]) {
      const res = await post(moongate, token, HELLO);
      codes.push(`${res.status} ${((await res.json()) as { error: { code: string } }).error.code}`);
    }
    expect(codes).toEqual(['400 token_mismatched', '401 token_expired', '401 invalid_token']);
    expect(await usageOf(moongate, caller.personId)).toEqual([]);
    expect(await db.selectFrom('holds').selectAll().execute()).toEqual([]);
    expect(await walletOf(moongate, expiring.credential.applicationId ?? '')).toEqual({ amount: 1_000_000, held: 0 });
    // The same person's valid credential still works: the refusals were about the credentials.
    expect((await post(moongate, caller.token, HELLO)).status).toBe(200);
  });
});

describe('what a service credential draws on', () => {
  it('the application quota first, then the global balance where the application allows it', async () => {
    moongate = await startTestServer({
      provider: new ScriptedProvider([
        { type: 'delta', index: 0, content: 'Hi' },
        { type: 'finish', index: 0, reason: 'stop' },
        { type: 'usage', promptTokens: 9, completionTokens: 2 },
      ]),
    });
    const { db } = moongate.server.store;
    const cost = costOf(PRICE, { promptTokens: 9, cachedTokens: 0, completionTokens: 2 });
    const small = { ...HELLO, max_tokens: 10 };
    const worstCase = 306 - 270; // ceil(9 × 0.6 + 10 × 3.0) = 36
    const caller = await fundedCredential(moongate.server.store, 'both@example.com', { balance: worstCase, scope: 'service' });
    const credential = await db.selectFrom('credentials').select('application_id').where('id', '=', caller.credentialId).executeTakeFirstOrThrow();
    const appId = credential.application_id ?? '';

    // The quota covers one worst case: drawn from the quota.
    expect((await post(moongate, caller.token, small)).status).toBe(200);
    expect(await walletOf(moongate, appId)).toEqual({ amount: worstCase - cost, held: 0 });
    // Not any more, and there is no balance: used_up.
    expect((await post(moongate, caller.token, small)).status).toBe(403);
    // A balance, but the application does not allow it: still used_up.
    await db.insertInto('wallets').values({ id: caller.personId, kind: 'balance', person_id: caller.personId, amount: 1_000, held: 0, fallback: 'none', created_at: Date.now() }).execute();
    expect((await post(moongate, caller.token, small)).status).toBe(403);
    // The application allows it: the balance pays.
    await db.updateTable('wallets').set({ fallback: 'balance' }).where('id', '=', appId).execute();
    const res = await post(moongate, caller.token, small);
    expect(res.status).toBe(200);
    const rows = await usageOf(moongate, caller.personId);
    expect(rows.map((r) => r.wallet_id)).toEqual([appId, caller.personId]);
    expect(await walletOf(moongate, caller.personId)).toEqual({ amount: 1_000 - cost, held: 0 });
  });
});
