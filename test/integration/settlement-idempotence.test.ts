/**
 * Settlement retries are idempotent on both dialects (docs/billing.md, "When the store is
 * down"): a settlement that already landed (a commit whose answer was lost) and is replayed
 * from the spool moves no money and writes no second row; one that did not land is charged
 * once. On PostgreSQL, the hold of a refused request whose hold statement may have committed
 * is given back by trace id.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { HoldLedger } from '../../src/billing/hold-ledger.js';
import { seedPrices } from '../../src/billing/price-store.js';
import { SettlementBatcher } from '../../src/billing/settlement-batcher.js';
import { SettlementSpool } from '../../src/billing/settlement-spool.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { fundedCredential } from '../helpers/funded-credential.js';
import { settlementOf } from '../helpers/settlements.js';
import { describeEachDialect } from '../helpers/postgres.js';

const BALANCE = 1_000_000;

describeEachDialect((target) => {
  let store: Store;
  beforeAll(async () => {
    store = await openStore(target.location());
    await seedPrices(store.db);
  });
  afterAll(async () => {
    await store.close();
  });

  it('a replayed spool bills what had not landed once, and what had landed not again', async () => {
    const caller = await fundedCredential(store, `replay-${target.dialect}@example.com`, { balance: BALANCE });
    const service = await store.db.selectFrom('services').select('id').executeTakeFirstOrThrow();
    const ledger = new HoldLedger(store);
    await ledger.start();
    expect(await ledger.hold('trace-landed', { personId: caller.personId, applicationId: null }, 500)).toBe(caller.personId);
    expect(await ledger.hold('trace-lost', { personId: caller.personId, applicationId: null }, 400)).toBe(caller.personId);
    const landed = settlementOf('trace-landed', caller, 120, 500);
    landed.usage.service_id = service.id;
    const lost = settlementOf('trace-lost', caller, 70, 400);
    lost.usage.service_id = service.id;
    const first = new SettlementBatcher(store, ledger);
    await first.settle(landed);
    await first.close();
    // The process stops with both in its spool (the first one's commit answer was lost).
    await ledger.close();
    const path = join(target.location().dataDir, `spool-${target.dialect}.jsonl`);
    await writeFile(path, `${JSON.stringify(landed)}\n${JSON.stringify(lost)}\n{"torn":`);

    const next = new HoldLedger(store);
    await next.start();
    const replaying = new SettlementBatcher(store, next, { spool: new SettlementSpool(path) });
    expect(await replaying.replaySpool()).toEqual({ found: 2, landed: 2, unreadable: 1 });
    expect(replaying.pending).toBe(0);
    // Again, as after a crash before the spool was emptied: nothing moves.
    await writeFile(path, `${JSON.stringify(landed)}\n${JSON.stringify(lost)}\n`);
    expect(await replaying.replaySpool()).toEqual({ found: 2, landed: 2, unreadable: 0 });
    await replaying.close();
    await next.close();

    const rows = await store.db.selectFrom('usage').select(['trace_id', 'cost']).where('person_id', '=', caller.personId).orderBy('trace_id').execute();
    expect(rows).toEqual([
      { trace_id: 'trace-landed', cost: 120 },
      { trace_id: 'trace-lost', cost: 70 },
    ]);
    const wallet = await store.db.selectFrom('wallets').select(['amount', 'held']).where('id', '=', caller.personId).executeTakeFirstOrThrow();
    expect(wallet).toEqual({ amount: BALANCE - 190, held: 0 });
  });

  it.skipIf(target.dialect !== 'postgres')('gives back the hold of a refused request whose hold statement may have committed', async () => {
    const caller = await fundedCredential(store, 'uncertain@example.com', { balance: BALANCE });
    const ledger = new HoldLedger(store);
    await ledger.start();
    // The hold committed; its answer is taken to be lost, so the request was refused.
    expect(await ledger.hold('trace-uncertain', { personId: caller.personId, applicationId: null }, 900)).toBe(caller.personId);
    const batcher = new SettlementBatcher(store, ledger);
    batcher.releaseUncertainHold('trace-uncertain');
    batcher.releaseUncertainHold('trace-never-held');
    // Waiting for the store until given back: /readyz must not say everything landed meanwhile.
    expect(batcher.pending).toBe(2);
    await batcher.close();
    expect(batcher.pending).toBe(0);
    const holds = await store.db.selectFrom('holds').select('trace_id').where('trace_id', '=', 'trace-uncertain').execute();
    expect(holds).toEqual([]);
    const wallet = await store.db.selectFrom('wallets').select(['amount', 'held']).where('id', '=', caller.personId).executeTakeFirstOrThrow();
    expect(wallet).toEqual({ amount: BALANCE, held: 0 });
    await ledger.close();
  });
  it.skipIf(target.dialect !== 'postgres')('one settlement the store refuses for its values holds back none of the others, then or on retry', async () => {
    const caller = await fundedCredential(store, 'poison@example.com', { balance: BALANCE });
    const service = await store.db.selectFrom('services').select('id').executeTakeFirstOrThrow();
    const ledger = new HoldLedger(store);
    await ledger.start();
    for (const [traceId, amount] of [['trace-poison', 300], ['trace-fine', 200], ['trace-later', 100]] as const) {
      expect(await ledger.hold(traceId, { personId: caller.personId, applicationId: null }, amount)).toBe(caller.personId);
    }
    // Out of range for PostgreSQL's bigint (SQLSTATE 22003): refused on every try, whatever else happens.
    const poison = settlementOf('trace-poison', caller, 300, 300);
    poison.usage.completion_tokens = 1e20;
    const fine = settlementOf('trace-fine', caller, 50, 200);
    const later = settlementOf('trace-later', caller, 20, 100);
    for (const settlement of [poison, fine, later]) settlement.usage.service_id = service.id;
    const batcher = new SettlementBatcher(store, ledger);
    // One batch, the refused one first.
    await Promise.all([batcher.settle(poison), batcher.settle(fine)]);
    expect(batcher.pending).toBe(1);
    await batcher.settle(later);
    await batcher.close();
    const rows = await store.db.selectFrom('usage').select('trace_id').where('person_id', '=', caller.personId).orderBy('trace_id').execute();
    expect(rows.map((row) => row.trace_id)).toEqual(['trace-fine', 'trace-later']);
    const wallet = await store.db.selectFrom('wallets').select(['amount', 'held']).where('id', '=', caller.personId).executeTakeFirstOrThrow();
    // The refused one's hold is still held (it waits in the spool, reported); the others are charged.
    expect(wallet).toEqual({ amount: BALANCE - 70, held: 300 });
    await ledger.close();
  });
});
