/**
 * Billing's store side on both dialects: the console's account queries, the free quota
 * once per person, holds (atomic, released when their owner is gone) and usage pruning.
 */
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ApplicationStore } from '../../src/accounts/application-store.js';
import { PersonStore } from '../../src/accounts/person-store.js';
import { dailyUsage, getBalanceSummary, listPrices, listUsage } from '../../src/billing/usage-summaries.js';
import { HoldLedger } from '../../src/billing/hold-ledger.js';
import { PriceBook, seedPrices, setPrice } from '../../src/billing/price-store.js';
import { pruneUsage } from '../../src/billing/usage-pruner.js';
import { addBalance } from '../../src/billing/wallet-store.js';
import { newId } from '../../src/store/new-id.js';
import { SQLITE_FILE_NAME, openStore, type Store } from '../../src/store/open-store.js';
import { KIMI_SERVICE } from '../../src/store/seed-services.js';
import { fundedCredential } from '../helpers/funded-credential.js';

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
import { describeEachDialect } from '../helpers/postgres.js';

const DAY = 86_400_000;

describeEachDialect((target) => {
  let store: Store;
  beforeAll(async () => {
    store = await openStore(target.location());
    await seedPrices(store.db);
  });
  afterAll(async () => {
    await store.close();
  });

  /** What `ledger` holds on a wallet: PostgreSQL's in its row, SQLite's in the ledger's memory. */
  async function heldOn(ledger: HoldLedger, walletId: string): Promise<number> {
    if (ledger.memory !== null) return ledger.memory.heldOn(walletId);
    return (await store.db.selectFrom('wallets').select('held').where('id', '=', walletId).executeTakeFirstOrThrow()).held;
  }

  it('gives the free quota once per person, not per application, even to concurrent calls', async () => {
    await store.db.insertInto('services').values({ id: newId('svc'), slug: 'second-api', name: 'Second', status: 'active', created_at: 1 }).execute();
    const person = await new PersonStore(store.db).ensurePerson('free@example.com');
    const applications = new ApplicationStore(store.db, { freeQuota: 1_000 });
    const created = await Promise.all([
      applications.ensureApplication(person.id, KIMI_SERVICE.slug),
      applications.ensureApplication(person.id, 'second-api'),
      applications.ensureApplication(person.id, KIMI_SERVICE.slug),
      applications.ensureApplication(person.id, 'second-api'),
    ]);
    expect(new Set(created.map((a) => a.id)).size).toBe(2);
    const wallets = await store.db.selectFrom('wallets').select(['kind', 'amount']).where('person_id', '=', person.id).execute();
    expect(wallets.map((w) => w.kind)).toEqual(['quota', 'quota']);
    expect(wallets.reduce((sum, w) => sum + w.amount, 0)).toBe(1_000);
    expect((await getBalanceSummary(store.db, person.id, 'USD')).quota).toBe(1_000);
  });

  it('sums quota, balance and held for the console', async () => {
    const caller = await fundedCredential(store, 'summary@example.com', { balance: 700, scope: 'service' });
    await addBalance(store.db, caller.personId, 2_500);
    await addBalance(store.db, caller.personId, 500);
    const ledger = new HoldLedger(store);
    await ledger.start();
    expect(await ledger.hold('trace-summary', { personId: caller.personId, applicationId: null }, 300)).toBe(caller.personId);
    // SQLite's holds are in the server's memory; the row's `held` is written with settlements.
    const heldInRow = target.dialect === 'postgres' ? 300 : 0;
    expect(await getBalanceSummary(store.db, caller.personId, 'USD')).toEqual({ quota: 700, balance: 3_000, held: heldInRow, currency: 'USD' });
    await ledger.close();
    expect(await getBalanceSummary(store.db, caller.personId, 'USD')).toMatchObject({ held: 0, balance: 3_000 });
  });

  it('holds on the quota first, then on the balance only where the application allows it', async () => {
    const caller = await fundedCredential(store, 'order@example.com', { balance: 100, scope: 'service' });
    const credential = await store.db.selectFrom('credentials').select('application_id').where('id', '=', caller.credentialId).executeTakeFirstOrThrow();
    const appId = credential.application_id ?? '';
    await addBalance(store.db, caller.personId, 1_000);
    const ledger = new HoldLedger(store);
    await ledger.start();
    const target1 = { personId: caller.personId, applicationId: appId };
    expect(await ledger.hold('order-1', target1, 80)).toBe(appId);
    // 20 left on the quota; the application has fallback 'none' (fundedCredential's service scope).
    expect(await ledger.hold('order-2', target1, 50)).toBeNull();
    await store.db.updateTable('wallets').set({ fallback: 'balance' }).where('id', '=', appId).execute();
    // SQLite's holds of one turn of the event loop share one look at the wallets (memory-holds.ts).
    await nextTurn();
    expect(await ledger.hold('order-3', target1, 50)).toBe(caller.personId);
    expect(await ledger.hold('order-4', target1, 20)).toBe(appId);
    expect(await ledger.hold('order-5', target1, 951)).toBeNull();
    expect(await heldOn(ledger, caller.personId)).toBe(50);
    expect(await heldOn(ledger, appId)).toBe(100);
    const recorded = await store.db.selectFrom('holds').select('trace_id').where('trace_id', 'like', 'order-%').orderBy('trace_id').execute();
    expect(recorded.map((r) => r.trace_id)).toEqual(target.dialect === 'postgres' ? ['order-1', 'order-3', 'order-4'] : []);
    await ledger.close();
  });

  it('holds atomically: concurrent holds never exceed what is there', async () => {
    const caller = await fundedCredential(store, 'atomic@example.com', { balance: 1_000 });
    const ledger = new HoldLedger(store);
    await ledger.start();
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => ledger.hold(`atomic-${i}`, { personId: caller.personId, applicationId: null }, 100)),
    );
    expect(results.filter((r) => r !== null)).toHaveLength(10);
    expect(await heldOn(ledger, caller.personId)).toBe(1_000);
    await ledger.close();
  });

  // Registered only on the dialect it is about (not skipped on the other: CI counts skips).
  if (target.dialect === 'sqlite') it('SQLite: a starting server resets the held figures a crashed one left', async () => {
    const caller = await fundedCredential(store, 'restart@example.com', { balance: 1_000 });
    // What a server killed mid-flight leaves: the mirror its last settlement wrote.
    await store.db.updateTable('wallets').set({ held: 400 }).where('id', '=', caller.personId).execute();
    const next = new HoldLedger(store);
    expect(await next.start()).toBe(1);
    expect(await store.db.selectFrom('wallets').select('held').where('id', '=', caller.personId).executeTakeFirst()).toEqual({ held: 0 });
    // The figure left behind is not taken for a hold: the whole balance can be held again.
    expect(await next.hold('after-restart', { personId: caller.personId, applicationId: null }, 1_000)).toBe(caller.personId);
    await next.close();
  });

  if (target.dialect === 'sqlite') it('SQLite: a hold writes nothing, so another process holding the write lock does not stop it; its top-up is seen from the next turn', async () => {
    const caller = await fundedCredential(store, 'turn@example.com', { balance: 1_000 });
    const ledger = new HoldLedger(store);
    await ledger.start();
    const wallet = { personId: caller.personId, applicationId: null };
    // Another connection (the CLI, say) on the same file keeps the write lock.
    const other = new SqliteDatabase(join(target.location().dataDir, SQLITE_FILE_NAME));
    try {
      other.exec('begin immediate');
      const taken = await Promise.all(Array.from({ length: 12 }, (_, i) => ledger.hold(`locked-${i}`, wallet, 100)));
      expect(taken.filter((r) => r !== null)).toHaveLength(10);
      // The CLI's `balance add` commits: the holds of the next turn of the event loop see it
      // (those of this turn share the look taken before it, as if they had come first).
      other.prepare('update wallets set amount = amount + 250 where id = ?').run(caller.personId);
      other.exec('commit');
      await nextTurn();
      expect(await ledger.hold('topped-up-1', wallet, 200)).toBe(caller.personId);
      expect(await ledger.hold('topped-up-2', wallet, 100)).toBeNull();
      expect(await heldOn(ledger, caller.personId)).toBe(1_200);
    } finally {
      other.close();
      await ledger.close();
    }
  });

  if (target.dialect === 'postgres') it("PostgreSQL: releases a dead instance's holds once its lease has run out, and a live one's never", async () => {
    const caller = await fundedCredential(store, 'lease@example.com', { balance: 1_000 });
    let now = 1_000_000;
    const dead = new HoldLedger(store, { leaseMs: 60_000, now: () => now });
    const live = new HoldLedger(store, { leaseMs: 60_000, now: () => now });
    await dead.start();
    await live.start();
    await dead.hold('dead-1', { personId: caller.personId, applicationId: null }, 400);
    await live.hold('live-1', { personId: caller.personId, applicationId: null }, 200);
    // Still within the lease: nothing is released.
    now += 30_000;
    expect(await live.releaseOrphans()).toBe(0);
    // The dead instance stops heartbeating; the live one keeps beating.
    now += 61_000;
    await store.db.updateTable('instances').set({ heartbeat_at: now }).where('id', '=', live.instanceId).execute();
    expect(await live.releaseOrphans()).toBe(1);
    expect(await live.releaseOrphans()).toBe(0);
    const holds = await store.db.selectFrom('holds').select('trace_id').where('trace_id', 'in', ['dead-1', 'live-1']).execute();
    expect(holds).toEqual([{ trace_id: 'live-1' }]);
    expect(await store.db.selectFrom('wallets').select('held').where('id', '=', caller.personId).executeTakeFirst()).toEqual({ held: 200 });
    await live.close();
    await dead.close();
  });

  it('lists usage newest first with a cursor and filters, and totals per day and model', async () => {
    const caller = await fundedCredential(store, 'usage@example.com', { balance: 0 });
    const credential = await store.db.selectFrom('credentials').select('name').where('id', '=', caller.credentialId).executeTakeFirstOrThrow();
    const service = await store.db.selectFrom('services').select(['id', 'slug']).where('slug', '=', KIMI_SERVICE.slug).executeTakeFirstOrThrow();
    const day0 = Date.UTC(2026, 0, 10);
    const row = (i: number, model: string, status: 'completed' | 'failed', createdAt: number) => ({
      trace_id: `usage-${String(i).padStart(2, '0')}`,
      created_at: createdAt,
      person_id: caller.personId,
      credential_id: caller.credentialId,
      service_id: service.id,
      wallet_id: caller.personId,
      model,
      stream: i % 2 === 0 ? ('true' as const) : ('false' as const),
      status,
      error_code: status === 'failed' ? 'timeout' : null,
      prompt_tokens: 10,
      cached_tokens: 2,
      cache_write_tokens: 3,
      completion_tokens: status === 'failed' ? 0 : 20,
      cost: status === 'failed' ? 0 : 65,
      duration_ms: 100,
      ttft_ms: status === 'failed' ? null : 30,
      channel: 'simulator',
    });
    await store.db
      .insertInto('usage')
      .values([
        row(1, 'kimi-k2.5', 'completed', day0 + 1_000),
        row(2, 'kimi-k2.5', 'completed', day0 + 2_000),
        row(3, 'kimi-k2-thinking', 'completed', day0 + 3_000),
        row(4, 'kimi-k2.5', 'failed', day0 + DAY + 1_000),
        row(5, 'kimi-k2.5', 'completed', day0 + DAY + 1_000), // same time as 4: the trace id breaks the tie
      ])
      .execute();

    const first = await listUsage(store.db, caller.personId, { limit: 2 });
    expect(first.rows.map((r) => r.traceId)).toEqual(['usage-05', 'usage-04']);
    expect(first.rows[1]).toEqual({
      traceId: 'usage-04',
      createdAt: day0 + DAY + 1_000,
      model: 'kimi-k2.5',
      credentialId: caller.credentialId,
      credentialName: credential.name,
      serviceSlug: service.slug,
      stream: true,
      status: 'failed',
      errorCode: 'timeout',
      promptTokens: 10,
      cachedTokens: 2,
      cacheWriteTokens: 3,
      completionTokens: 0,
      cost: 0,
      durationMs: 100,
      ttftMs: null,
      channel: 'simulator',
    });
    const second = await listUsage(store.db, caller.personId, { limit: 2, before: first.next ?? '' });
    expect(second.rows.map((r) => r.traceId)).toEqual(['usage-03', 'usage-02']);
    const third = await listUsage(store.db, caller.personId, { limit: 2, before: second.next ?? '' });
    expect(third).toMatchObject({ rows: [{ traceId: 'usage-01' }], next: null });
    expect((await listUsage(store.db, caller.personId, { status: 'failed' })).rows.map((r) => r.traceId)).toEqual(['usage-04']);
    expect((await listUsage(store.db, caller.personId, { model: 'kimi-k2-thinking' })).rows).toHaveLength(1);
    expect((await listUsage(store.db, caller.personId, { since: day0 + DAY, until: day0 + 2 * DAY })).rows).toHaveLength(2);
    await expect(listUsage(store.db, caller.personId, { limit: 501 })).rejects.toThrow(/limit/);
    await expect(listUsage(store.db, caller.personId, { before: 'garbage' })).rejects.toThrow(/cursor/);

    expect(await dailyUsage(store.db, caller.personId, { since: day0, until: day0 + 2 * DAY })).toEqual([
      { day: '2026-01-10', model: 'kimi-k2-thinking', requests: 1, promptTokens: 10, completionTokens: 20, cost: 65 },
      { day: '2026-01-10', model: 'kimi-k2.5', requests: 2, promptTokens: 20, completionTokens: 40, cost: 130 },
      { day: '2026-01-11', model: 'kimi-k2.5', requests: 2, promptTokens: 20, completionTokens: 20, cost: 65 },
    ]);

    // Retention: rows older than the period go, newer ones stay.
    expect(await pruneUsage(store.db, 1, day0 + DAY + 5_000)).toBe(3);
    expect((await listUsage(store.db, caller.personId, {})).rows.map((r) => r.traceId)).toEqual(['usage-05', 'usage-04']);
  });

  it('lists the prices in micro-units per 1M tokens', async () => {
    const prices = await listPrices(store.db);
    // The seed's seven and Moonshot's current four (docs/models.md).
    expect(prices).toHaveLength(7 + 4);
    expect(prices).toContainEqual({ model: 'kimi-k2-thinking-turbo', cachedInput: 150_000, input: 1_150_000, output: 8_000_000, cacheWrite: 1_150_000 });
  });

  it('keeps an operator price across re-seeding, and admission sees it once its cache expires', async () => {
    const book = new PriceBook(store.db, 60_000);
    expect(await book.get('kimi-k2-0711-preview')).toEqual({ model: 'kimi-k2-0711-preview', cachedInput: 150_000, input: 600_000, output: 2_500_000, cacheWrite: 600_000 });
    await setPrice(store.db, { model: 'kimi-k2-0711-preview', cachedInput: 1, input: 2, output: 3, cacheWrite: 4 });
    await seedPrices(store.db);
    // Cached for its TTL...
    expect((await book.get('kimi-k2-0711-preview'))?.output).toBe(2_500_000);
    // ...and a book without one reads the new price.
    expect(await new PriceBook(store.db, 0).get('kimi-k2-0711-preview')).toEqual({ model: 'kimi-k2-0711-preview', cachedInput: 1, input: 2, output: 3, cacheWrite: 4 });
    await expect(setPrice(store.db, { model: 'gpt-4', cachedInput: 1, input: 1, output: 1, cacheWrite: 1 })).rejects.toThrow(/not in the model catalogue/);
    await expect(setPrice(store.db, { model: 'kimi-k2.5', cachedInput: -1, input: 1, output: 1, cacheWrite: 1 })).rejects.toThrow(/non-negative/);
  });
});
