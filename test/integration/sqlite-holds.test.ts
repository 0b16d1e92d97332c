/**
 * SQLite's holds in memory and its settlement on the store's connection (docs/billing.md,
 * "Hold" and "Settlement"), on a real SQLite file: a hold is given back only once the
 * settlement that charges it has committed, the wallet's `held` mirror is written with it,
 * a settlement lands exactly once whether it commits on the connection directly, inside a
 * moment when Kysely has a transaction open there, or after the store refused it.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HoldLedger } from '../../src/billing/hold-ledger.js';
import { seedPrices } from '../../src/billing/price-store.js';
import { SettlementBatcher } from '../../src/billing/settlement-batcher.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { fundedCredential } from '../helpers/funded-credential.js';
import { settlementOf } from '../helpers/settlements.js';
import { useTempDir } from '../helpers/temp-dir.js';

const dir = useTempDir();
let store: Store;
beforeAll(async () => {
  store = await openStore({ dataDir: dir.path });
  await seedPrices(store.db);
});
afterAll(async () => {
  await store.close();
});

async function walletOf(id: string) {
  return store.db.selectFrom('wallets').select(['amount', 'held']).where('id', '=', id).executeTakeFirstOrThrow();
}

async function rowsOf(traceId: string) {
  return store.db.selectFrom('usage').select(['trace_id', 'cost']).where('trace_id', '=', traceId).execute();
}

it('settling charges the cost, writes the held mirror of the holds still open, and frees the rest of the hold for others', async () => {
  const caller = await fundedCredential(store, 'mirror@example.com', { balance: 1_000 });
  const ledger = new HoldLedger(store);
  await ledger.start();
  const batcher = new SettlementBatcher(store, ledger);
  const wallet = { personId: caller.personId, applicationId: null };
  try {
    expect(await ledger.hold('mirror-a', wallet, 300)).toBe(caller.personId);
    expect(await ledger.hold('mirror-b', wallet, 200)).toBe(caller.personId);
    expect(await ledger.hold('mirror-c', wallet, 501)).toBeNull();
    await batcher.settle(settlementOf('mirror-a', caller, 100, 300));
    expect(await rowsOf('mirror-a')).toEqual([{ trace_id: 'mirror-a', cost: 100 }]);
    // b's 200 is still held: the row's mirror says so, and 900 - 200 is what is left to hold.
    expect(await walletOf(caller.personId)).toEqual({ amount: 900, held: 200 });
    expect(ledger.memory?.heldOn(caller.personId)).toBe(200);
    expect(await ledger.hold('mirror-c', wallet, 701)).toBeNull();
    expect(await ledger.hold('mirror-c', wallet, 700)).toBe(caller.personId);
    await batcher.settle(settlementOf('mirror-b', caller, 50, 200));
    await batcher.settle(settlementOf('mirror-c', caller, 700, 700));
    expect(await walletOf(caller.personId)).toEqual({ amount: 150, held: 0 });
    expect(ledger.memory?.heldOn(caller.personId)).toBe(0);
  } finally {
    await batcher.close();
    await ledger.close();
  }
});

it('a settlement that comes while Kysely has a transaction open on the connection waits for it, and is not lost when it rolls back', async () => {
  const caller = await fundedCredential(store, 'beside@example.com', { balance: 1_000 });
  const ledger = new HoldLedger(store);
  await ledger.start();
  const batcher = new SettlementBatcher(store, ledger);
  try {
    expect(await ledger.hold('beside-1', { personId: caller.personId, applicationId: null }, 400)).toBe(caller.personId);
    let settled: Promise<void> | undefined;
    const rolledBack = store.db.transaction().execute(async (trx) => {
      await trx.updateTable('wallets').set({ amount: 5_000 }).where('id', '=', caller.personId).execute();
      settled = batcher.settle(settlementOf('beside-1', caller, 150, 400));
      // Two turns of the event loop: the batch starts while this transaction is still open.
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      expect(ledger.memory?.heldOn(caller.personId)).toBe(400);
      throw new Error('roll back');
    });
    await expect(rolledBack).rejects.toThrow('roll back');
    await settled;
    expect(await rowsOf('beside-1')).toEqual([{ trace_id: 'beside-1', cost: 150 }]);
    expect(await walletOf(caller.personId)).toEqual({ amount: 850, held: 0 });
    expect(ledger.memory?.heldOn(caller.personId)).toBe(0);
  } finally {
    await batcher.close();
    await ledger.close();
  }
});

it('a settlement the store refuses keeps its hold until its retry lands, once', async () => {
  const caller = await fundedCredential(store, 'refused@example.com', { balance: 1_000 });
  const ledger = new HoldLedger(store);
  await ledger.start();
  const batcher = new SettlementBatcher(store, ledger, { retryFirstMs: 60_000 });
  const wallet = { personId: caller.personId, applicationId: null };
  // A first attempt whose row is there already (a retry that raced it, say): refused whole.
  await store.db.insertInto('usage').values(settlementOf('refused-dup', caller, 1, 0).usage).execute();
  try {
    expect(await ledger.hold('refused-1', wallet, 600)).toBe(caller.personId);
    const { usage } = settlementOf('refused-dup', caller, 100, 600);
    await batcher.settle({ walletId: caller.personId, held: 600, usage });
    expect(batcher.pending).toBe(1);
    // Deferred, not committed: its 600 still counts as held, so only 400 can be taken.
    expect(ledger.memory?.heldOn(caller.personId)).toBe(600);
    expect(await ledger.hold('refused-2', wallet, 401)).toBeNull();
    // The retry (close makes one) finds the row there: no second row, no money moved, hold released.
    await batcher.close();
    expect(batcher.pending).toBe(0);
    expect(await rowsOf('refused-dup')).toEqual([{ trace_id: 'refused-dup', cost: 1 }]);
    expect(await walletOf(caller.personId)).toEqual({ amount: 1_000, held: 0 });
    expect(ledger.memory?.heldOn(caller.personId)).toBe(0);
  } finally {
    await ledger.close();
  }
});

it.each([
  ['group commit', {}],
  ['one transaction each', { maxDelayMs: 0 }],
])('many settlements at once (%s) leave the held mirror at what is still held: zero once all are settled', async (_name, options) => {
  const caller = await fundedCredential(store, `many-${String(Object.keys(options).length)}@example.com`, { balance: 100_000 });
  const ledger = new HoldLedger(store);
  await ledger.start();
  const batcher = new SettlementBatcher(store, ledger, options);
  const wallet = { personId: caller.personId, applicationId: null };
  try {
    const traces = Array.from({ length: 64 }, (_, i) => `many-${String(Object.keys(options).length)}-${String(i)}`);
    for (const trace of traces) expect(await ledger.hold(trace, wallet, 1_000)).toBe(caller.personId);
    await Promise.all(traces.map((trace) => batcher.settle(settlementOf(trace, caller, 10, 1_000))));
    expect(await walletOf(caller.personId)).toEqual({ amount: 100_000 - 64 * 10, held: 0 });
    expect(ledger.memory?.heldOn(caller.personId)).toBe(0);
  } finally {
    await batcher.close();
    await ledger.close();
  }
});

/** The holds of one turn of the event loop share one look at the counters (memory-holds.ts). */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe('the wallet amounts a hold keeps between holds are what is on disk as of the turn', () => {
  it('another connection (the CLI) lowers the balance: the next hold sees it', async () => {
    const caller = await fundedCredential(store, 'kept-cli@example.com', { balance: 1_000 });
    const ledger = new HoldLedger(store);
    await ledger.start();
    const wallet = { personId: caller.personId, applicationId: null };
    const other = new Database(join(dir.path, 'moongate.db'));
    try {
      // Read once, and kept.
      expect(await ledger.hold('kept-cli-1', wallet, 100)).toBe(caller.personId);
      other.prepare('update wallets set amount = 150 where id = ?').run(caller.personId);
      await nextTurn();
      // 150 - 100 held: 51 no longer fits, 50 does.
      expect(await ledger.hold('kept-cli-2', wallet, 51)).toBeNull();
      expect(await ledger.hold('kept-cli-3', wallet, 50)).toBe(caller.personId);
      other.prepare('update wallets set amount = 10000 where id = ?').run(caller.personId);
      await nextTurn();
      expect(await ledger.hold('kept-cli-4', wallet, 9_000)).toBe(caller.personId);
    } finally {
      other.close();
      await ledger.close();
    }
  });

  it('this process writes the wallet through Kysely (the console): the next hold sees it, and a rolled-back write is not kept', async () => {
    const caller = await fundedCredential(store, 'kept-kysely@example.com', { balance: 1_000 });
    const ledger = new HoldLedger(store);
    await ledger.start();
    const wallet = { personId: caller.personId, applicationId: null };
    try {
      expect(await ledger.hold('kept-k-1', wallet, 100)).toBe(caller.personId);
      await store.db.updateTable('wallets').set({ amount: 200 }).where('id', '=', caller.personId).execute();
      await nextTurn();
      expect(await ledger.hold('kept-k-2', wallet, 101)).toBeNull();
      // A hold made while a transaction that raised the amount is open, which then rolls back.
      const rolledBack = store.db.transaction().execute(async (trx) => {
        await trx.updateTable('wallets').set({ amount: 1_000_000 }).where('id', '=', caller.personId).execute();
        await ledger.hold('kept-k-inside', wallet, 1);
        throw new Error('roll back');
      });
      await expect(rolledBack).rejects.toThrow('roll back');
      // 200 on disk, 100 + 1 held: the million is gone, and so is what it let through.
      expect(await ledger.hold('kept-k-3', wallet, 100)).toBeNull();
      expect(await ledger.hold('kept-k-4', wallet, 99)).toBe(caller.personId);
    } finally {
      await ledger.close();
    }
  });

  it('a write in the same turn as a settlement is not hidden by the settlement: the next turn sees it', async () => {
    const caller = await fundedCredential(store, 'kept-same-turn@example.com', { balance: 1_000 });
    const ledger = new HoldLedger(store);
    await ledger.start();
    const batcher = new SettlementBatcher(store, ledger, { maxDelayMs: 0 });
    const wallet = { personId: caller.personId, applicationId: null };
    try {
      expect(await ledger.hold('kept-t-1', wallet, 100)).toBe(caller.personId);
      // In the same turn: the console lowers the balance, then a settlement commits.
      await store.db.updateTable('wallets').set({ amount: 300 }).where('id', '=', caller.personId).execute();
      await batcher.settle(settlementOf('kept-t-1', caller, 100, 100));
      await nextTurn();
      // 300 - 100 charged = 200 on disk, nothing held.
      expect(await walletOf(caller.personId)).toEqual({ amount: 200, held: 0 });
      expect(await ledger.hold('kept-t-2', wallet, 201)).toBeNull();
      expect(await ledger.hold('kept-t-3', wallet, 200)).toBe(caller.personId);
    } finally {
      await batcher.close();
      await ledger.close();
    }
  });

  it('settlement charges the kept amount as it charges the disk, over many batches', async () => {
    const caller = await fundedCredential(store, 'kept-settle@example.com', { balance: 10_000 });
    const ledger = new HoldLedger(store);
    await ledger.start();
    const batcher = new SettlementBatcher(store, ledger);
    const wallet = { personId: caller.personId, applicationId: null };
    try {
      for (let i = 0; i < 20; i++) {
        expect(await ledger.hold(`kept-s-${String(i)}`, wallet, 500)).toBe(caller.personId);
        await batcher.settle(settlementOf(`kept-s-${String(i)}`, caller, 450, 500));
      }
      // 10,000 - 20 × 450 = 1,000 on disk: a hold of 1,001 must not fit, 1,000 must.
      expect(await walletOf(caller.personId)).toEqual({ amount: 1_000, held: 0 });
      expect(await ledger.hold('kept-s-over', wallet, 1_001)).toBeNull();
      expect(await ledger.hold('kept-s-all', wallet, 1_000)).toBe(caller.personId);
    } finally {
      await batcher.close();
      await ledger.close();
    }
  });
});
