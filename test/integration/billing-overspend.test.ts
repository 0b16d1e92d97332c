/**
 * No overspend: 200 requests arrive at once for a balance that affords exactly K worst
 * cases. The gated upstream keeps every admitted request running until all 200 have been
 * decided, so settlements cannot free money mid-way: exactly K get through, the rest are
 * refused with used_up before any upstream call, and the balance ends where the settled
 * usage rows say, to the micro-unit. Real HTTP, on SQLite and on PostgreSQL.
 */
import { afterEach, expect, it } from 'vitest';
import { ERROR_CATALOGUE } from '../../src/contract/errors.js';
import { findModel } from '../../src/contract/models.js';
import { costOf, SEED_PRICES, worstCaseCost } from '../../src/billing/price-list.js';
import { fundedCredential } from '../helpers/funded-credential.js';
import { GatedProvider } from '../helpers/gated-provider.js';
import { describeEachDialect } from '../helpers/postgres.js';
import { openHoldsAmount } from '../helpers/open-holds.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

let moongate: TestServer | undefined;
afterEach(async () => {
  await moongate?.close();
  moongate = undefined;
});

const REQUESTS = 200;
const K = 37;
const MAX_TOKENS = 100;
const COMPLETION_TOKENS = 50;

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 3_000; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describeEachDialect((target) => {
  it(`${REQUESTS} concurrent requests on a balance for ${K} worst cases: exactly ${K} succeed, the balance ends exact`, async () => {
    const price = SEED_PRICES.find((p) => p.model === 'kimi-k2.5');
    const model = findModel('kimi-k2.5');
    if (price === undefined || model === undefined) throw new Error('kimi-k2.5 is not seeded');
    // "Hello" is 9 prompt tokens: ceil(9 × 0.6 + 100 × 3.0) = ceil(305.4) micro-units.
    const worstCase = worstCaseCost(price, 9, MAX_TOKENS, 1);
    expect(worstCase).toBe(306);
    const cost = costOf(price, { promptTokens: 9, cachedTokens: 0, completionTokens: COMPLETION_TOKENS });
    expect(cost).toBe(156);
    const start = K * worstCase;

    const provider = new GatedProvider(COMPLETION_TOKENS);
    const location = target.location();
    moongate = await startTestServer({
      provider,
      env: location.databaseUrl === undefined ? {} : { DATABASE_URL: location.databaseUrl },
    });
    const { db } = moongate.server.store;
    const caller = await fundedCredential(moongate.server.store, 'rich@example.com', {
      balance: start,
      rps: 10_000,
      concurrency: 10_000,
    });

    let refused = 0;
    const url = `${moongate.url}/kimi/chat/completions`;
    const body = JSON.stringify({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }], max_tokens: MAX_TOKENS });
    const responses = Array.from({ length: REQUESTS }, async () => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${caller.token}` },
        body,
      });
      const json = (await res.json()) as { error?: { code: string; message: string } };
      if (res.status === 403) refused += 1;
      return { status: res.status, json };
    });
    // Every request is either refused or waiting at the gate: nothing has settled yet.
    await until(() => provider.calls + refused === REQUESTS, 'every request to be admitted or refused');
    expect(await openHoldsAmount(moongate.server)).toBe(K * worstCase);
    // PostgreSQL's holds are in the wallet's row; SQLite's in the server's memory, the row's
    // `held` written with the next settlement (docs/billing.md, "Hold").
    const whileRunning = await db.selectFrom('wallets').select(['amount', 'held']).where('id', '=', caller.personId).executeTakeFirstOrThrow();
    expect(whileRunning).toEqual({ amount: start, held: target.dialect === 'postgres' ? K * worstCase : 0 });
    // On PostgreSQL each hold is also recorded (for another replica to release after a crash).
    const recorded = await db.selectFrom('holds').select('trace_id').execute();
    expect(recorded).toHaveLength(target.dialect === 'postgres' ? K : 0);
    provider.open();
    const results = await Promise.all(responses);

    const ok = results.filter((r) => r.status === 200);
    const usedUp = results.filter((r) => r.status === 403);
    expect(ok).toHaveLength(K);
    expect(usedUp).toHaveLength(REQUESTS - K);
    for (const r of usedUp) expect(r.json.error).toEqual({ code: 'used_up', message: ERROR_CATALOGUE.used_up.message });
    expect(provider.calls).toBe(K);

    const rows = await db.selectFrom('usage').select(['cost', 'status']).where('person_id', '=', caller.personId).execute();
    expect(rows).toHaveLength(K);
    expect(rows.every((r) => r.status === 'completed' && r.cost === cost)).toBe(true);
    const settled = rows.reduce((sum, r) => sum + r.cost, 0);
    const wallet = await db.selectFrom('wallets').select(['amount', 'held']).where('id', '=', caller.personId).executeTakeFirstOrThrow();
    expect(wallet.amount).toBe(start - settled);
    expect(wallet.amount).toBeGreaterThanOrEqual(0);
    expect(wallet.held).toBe(0);
    expect(await db.selectFrom('holds').select('trace_id').execute()).toEqual([]);
    console.info(
      `overspend (${target.dialect}): ${REQUESTS} requests, balance ${start} µ = ${K} × ${worstCase} µ worst case; ` +
        `${ok.length} succeeded, ${usedUp.length} used_up; settled ${settled} µ; final balance ${wallet.amount} µ`,
    );
  });
});
