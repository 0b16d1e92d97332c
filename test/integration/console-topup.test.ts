/**
 * Top-up codes redeemed through the console (POST /api/balance/redeem), on SQLite and on
 * PostgreSQL: exactly once (also when two redemptions race, through the API and through two
 * store connections), one answer for unknown, used and expired codes, lenient input, and
 * only the session's person is credited. The per-person throttle: redeem-throttle.test.ts
 * (in memory and on Redis).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { getBalanceSummary } from '../../src/billing/usage-summaries.js';
import { TOPUP_CODE_PATTERN, hashTopupCode } from '../../src/billing/topup-code.js';
import { TopupCodeStore } from '../../src/billing/topup-code-store.js';
import { openStore } from '../../src/store/open-store.js';
import { ConsoleClient, expectError } from '../helpers/console-client.js';
import { describeEachDialect } from '../helpers/postgres.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const INVALID = 'This code is not valid or has already been used.';

interface Redeemed {
  quota: number;
  balance: number;
  held: number;
  currency: string;
  redeemed: number;
}

describeEachDialect((target) => {
  let moongate: TestServer;
  let codes: TopupCodeStore;

  beforeAll(async () => {
    const location = target.location();
    moongate = await startTestServer({
      env: { ...(location.databaseUrl === undefined ? {} : { DATABASE_URL: location.databaseUrl }), REGISTRATIONS_PER_HOUR: '1000', MOONGATE_CURRENCY: 'EUR' },
    });
    codes = new TopupCodeStore(moongate.server.store.db);
  });
  afterAll(async () => {
    await moongate?.close();
  });

  const newCode = async (amount: number, expiresAt: number | null = null): Promise<string> => {
    const [made] = await codes.createCodes({ amount, count: 1, expiresAt });
    if (made === undefined) throw new Error('no code made');
    return made.code;
  };
  const redeem = (browser: ConsoleClient, code: string) => browser.request<Redeemed>('POST', '/api/balance/redeem', { body: { code } });

  it('credits the balance once and answers the new summary with what was redeemed', async () => {
    const { browser, id } = await ConsoleClient.newPerson(moongate.server.app);
    const code = await newCode(2_500_000);
    expect(code).toMatch(TOPUP_CODE_PATTERN);
    const first = await redeem(browser, code);
    expect(first.status, first.text).toBe(200);
    expect(first.body).toEqual({ quota: 0, balance: 2_500_000, held: 0, currency: 'EUR', redeemed: 2_500_000 });
    const again = await redeem(browser, code);
    expectError(again, 400, 'bad_request');
    expect(again.body).toMatchObject({ error: { message: INVALID } });
    expect((await browser.request('GET', '/api/balance')).body).toMatchObject({ balance: 2_500_000 });
    const row = await moongate.server.store.db.selectFrom('topup_codes').selectAll().where('code_hash', '=', hashTopupCode(code) ?? '').executeTakeFirstOrThrow();
    expect(row).toMatchObject({ redeemed_by: id, amount: 2_500_000 });
    expect(row.redeemed_at).toBeGreaterThan(0);
  });

  it('accepts lower case, missing dashes and prefix, and Crockford look-alikes', async () => {
    const { browser } = await ConsoleClient.newPerson(moongate.server.app);
    const plain = await newCode(1);
    expect((await redeem(browser, plain.toLowerCase().replaceAll('-', ''))).status).toBe(200);
    const bare = await newCode(10);
    expect((await redeem(browser, `  ${bare.slice(3).replaceAll('-', ' ')} `)).status).toBe(200);
    const mistyped = (await newCode(100)).replaceAll('1', 'l').replaceAll('0', 'O');
    expect((await redeem(browser, mistyped)).status).toBe(200);
    expect((await browser.request('GET', '/api/balance')).body).toMatchObject({ balance: 111 });
  });

  it('gives unknown, used and expired codes, and garbage, the same 400', async () => {
    const { browser } = await ConsoleClient.newPerson(moongate.server.app);
    const other = await ConsoleClient.newPerson(moongate.server.app);
    const used = await newCode(5);
    expect((await redeem(other.browser, used)).status).toBe(200);
    // Made valid (an hour ahead), then expired in the store: a code made to expire a millisecond
    // ahead was refused as already expired whenever that millisecond had passed (a flaky test).
    const expired = await newCode(5, Date.now() + 3_600_000);
    await moongate.server.store.db.updateTable('topup_codes').set({ expires_at: Date.now() - 1 }).where('code_hash', '=', hashTopupCode(expired) ?? '').execute();
    const unknown = 'MG-0000-0000-0000-0000';
    const answers = await Promise.all([used, expired, unknown, 'not a code'].map((code) => redeem(browser, code)));
    for (const res of answers) {
      expectError(res, 400, 'bad_request');
      expect(res.body).toMatchObject({ error: { message: INVALID } });
    }
    expect((await browser.request('GET', '/api/balance')).body).toMatchObject({ balance: 0 });
    expectError(await browser.request('POST', '/api/balance/redeem', { body: {} }), 400, 'bad_request');
  });

  it('credits once when two people redeem one code at the same moment', async () => {
    const ada = await ConsoleClient.newPerson(moongate.server.app);
    const bob = await ConsoleClient.newPerson(moongate.server.app);
    for (let round = 0; round < 5; round++) {
      const code = await newCode(1_000);
      const results = await Promise.all([redeem(ada.browser, code), redeem(bob.browser, code), redeem(ada.browser, code)]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 400, 400]);
    }
    const db = moongate.server.store.db;
    const total = (await getBalanceSummary(db, ada.id, 'USD')).balance + (await getBalanceSummary(db, bob.id, 'USD')).balance;
    expect(total).toBe(5 * 1_000);
  });

  it('credits once when two store connections redeem one code at the same moment', async () => {
    const ada = await ConsoleClient.newPerson(moongate.server.app);
    const bob = await ConsoleClient.newPerson(moongate.server.app);
    const second = await openStore(target.location());
    try {
      const other = new TopupCodeStore(second.db);
      const made = await codes.createCodes({ amount: 7, count: 20 });
      const outcomes = await Promise.all(made.map((c) => Promise.all([codes.redeem(ada.id, c.code), other.redeem(bob.id, c.code)])));
      for (const pair of outcomes) expect(pair.filter((amount) => amount === 7)).toHaveLength(1);
      const db = moongate.server.store.db;
      expect((await getBalanceSummary(db, ada.id, 'USD')).balance + (await getBalanceSummary(db, bob.id, 'USD')).balance).toBe(20 * 7);
    } finally {
      await second.close();
    }
  });

  it('needs a session and the CSRF token, and credits only the session person', async () => {
    const ada = await ConsoleClient.newPerson(moongate.server.app);
    const bob = await ConsoleClient.newPerson(moongate.server.app);
    const code = await newCode(42);
    expectError(await new ConsoleClient(moongate.server.app).request('POST', '/api/balance/redeem', { body: { code } }), 401, 'invalid_token');
    expectError(await ada.browser.request('POST', '/api/balance/redeem', { body: { code }, csrf: false }), 400, 'bad_request');
    expectError(await ada.browser.request('POST', '/api/balance/redeem', { body: { code }, csrf: bob.browser.csrfToken ?? '' }), 400, 'bad_request');
    expect((await redeem(ada.browser, code)).status).toBe(200);
    expect((await bob.browser.request('GET', '/api/balance')).body).toMatchObject({ balance: 0 });
    expect((await ada.browser.request('GET', '/api/balance')).body).toMatchObject({ balance: 42 });
    expectError(await ada.browser.request('GET', '/api/balance/redeem'), 400, 'api_not_implemented');
  });

  it('stores only hashes of the codes', async () => {
    const made = await codes.createCodes({ amount: 3, count: 3 });
    const rows = await moongate.server.store.db.selectFrom('topup_codes').selectAll().where('id', 'in', made.map((c) => c.id)).execute();
    expect(rows).toHaveLength(3);
    const text = JSON.stringify(rows);
    for (const c of made) {
      expect(text).not.toContain(c.code);
      expect(text).not.toContain(c.code.slice(3).replaceAll('-', ''));
    }
    expect(new Set(made.map((c) => c.code)).size).toBe(3);
  });
});
