/**
 * SQLite's holds in memory (billing/memory-holds.ts), on an in-memory SQLite database with
 * the columns the holds read. A wallet whose holds are all released keeps its entry at 0
 * (no delete per request); past 10,000 entries those at 0 are dropped, and never one that
 * still holds something.
 */
import Database from 'better-sqlite3';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { MemoryHolds } from '../../src/billing/memory-holds.js';

let db: Database.Database;
beforeEach(() => {
  db = new Database(':memory:');
  db.exec("create table wallets (id text primary key, amount integer not null, fallback text not null default 'none')");
});
afterEach(() => db.close());

function addWallets(count: number, amount: number): void {
  const insert = db.prepare('insert into wallets (id, amount) values (?, ?)');
  db.transaction(() => {
    for (let i = 0; i < count; i++) insert.run(`w${i}`, amount);
  })();
}

const on = (id: string) => ({ personId: id, applicationId: null });

it('a released wallet holds 0 and can be held again up to its amount', () => {
  addWallets(1, 100);
  const holds = new MemoryHolds(db);
  expect(holds.hold(on('w0'), 60)).toBe('w0');
  expect(holds.hold(on('w0'), 41)).toBeNull();
  holds.release('w0', 60);
  expect(holds.heldOn('w0')).toBe(0);
  // Released twice, or more than held: never below 0, never money out of nothing.
  holds.release('w0', 60);
  expect(holds.heldOn('w0')).toBe(0);
  expect(holds.hold(on('w0'), 100)).toBe('w0');
  expect(holds.hold(on('w0'), 1)).toBeNull();
});

it('past 10,000 wallets the released ones are dropped, and a wallet that still holds keeps its hold', () => {
  addWallets(10_002, 100);
  const holds = new MemoryHolds(db);
  expect(holds.hold(on('w0'), 70)).toBe('w0');
  for (let i = 1; i <= 10_000; i++) {
    expect(holds.hold(on(`w${i}`), 100)).toBe(`w${i}`);
    holds.release(`w${i}`, 100);
  }
  // The 10,002nd wallet finds the map full: the 10,000 at 0 go, w0's 70 stays.
  expect(holds.hold(on('w10001'), 50)).toBe('w10001');
  expect(holds.heldOn('w0')).toBe(70);
  expect(holds.hold(on('w0'), 31)).toBeNull();
  expect(holds.hold(on('w0'), 30)).toBe('w0');
  expect(holds.heldOn('w5000')).toBe(0);
  expect(holds.hold(on('w5000'), 100)).toBe('w5000');
});
