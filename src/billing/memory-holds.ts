/**
 * SQLite's holds, kept in this process's memory (docs/billing.md, "Hold"). On SQLite one
 * server process owns the file (HoldLedger refuses a second one), so it is the only one that
 * holds: a hold needs no write, only a read of what the wallet has. The read is a prepared
 * better-sqlite3 statement run synchronously on the store's connection (a few µs), and the
 * check and the reservation happen in the same synchronous step, so no other request of this
 * process can come between them: concurrent holds can never reserve the same money twice.
 *
 * A hold is released only after the settlement that charges its cost has committed, so
 * between the two the request's money counts twice (charged and still held), never zero times.
 *
 * The wallets' `amount` is kept in memory between holds, and checked before every hold
 * without reading the wallets (issue 20: that read, a B-tree page found in the WAL, was the
 * dearest step of a request). Two counters SQLite keeps tell whether anything else wrote:
 * `PRAGMA data_version` moves when another connection commits (the CLI, another process:
 * `balance add`, a top-up code), `total_changes()` when this connection writes anything
 * (the console's writes go through Kysely on it). If either moved since the last look, every
 * kept amount is forgotten and read again. Settlement's own synchronous commit is the one
 * write that does not clear them: it takes each cost off the kept amount, exactly as its
 * `amount = amount - cost` did on disk. So a hold always sees what is on disk, as exactly as
 * a read would, and holds can still never reserve money the wallet does not have.
 *
 * The `held` column on disk becomes a mirror of these totals for the CLI and the console,
 * written with the settlement batch (no commit of its own): a wallet whose holds changed
 * since the last batch gets its current total then. A crash leaves the mirror's last figures,
 * which the next start resets to zero like every SQLite hold (HoldLedger.start).
 */
// Node's own, not the global one a test's fake timers may replace.
import { setImmediate as nextTurn } from 'node:timers';
import type { SqliteConnection } from '../store/open-store.js';

export interface MemoryHoldTarget {
  personId: string;
  /** The application's quota wallet (a service credential), or null (a global credential). */
  applicationId: string | null;
}

interface WalletRead {
  amount: number;
  fallback: string;
}

/** Wallets whose amounts are kept at most; past it they are all forgotten and read again. */
const KEPT_WALLETS = 10_000;

export class MemoryHolds {
  /**
   * Wallet id → what running requests hold on it. A wallet whose holds are all released keeps
   * its entry at 0 until there are KEPT_WALLETS entries (then those at 0 go): deleting it at
   * every release would have V8 allocate this long-lived Map a new table in the old generation
   * whenever the delete shrinks it, as one that empties it does (docs/benchmark.md,
   * "Old-space garbage").
   */
  readonly #held = new Map<string, number>();
  /** Wallets whose total changed since the mirror was last written. */
  #dirty = new Set<string>();
  readonly #readWallet: { get(id: string): unknown };
  /** Wallet id → its row as on disk, valid while the two counters below have not moved. */
  readonly #kept = new Map<string, WalletRead>();
  readonly #dataVersion: { get(): unknown };
  readonly #totalChanges: { get(): unknown };
  readonly #connection: SqliteConnection;
  #seenVersion: unknown = null;
  #seenChanges: unknown = null;
  /** The counters were read in this turn of the event loop: the holds of the turn share the look. */
  #lookedThisTurn = false;
  readonly #endTurn = (): void => {
    this.#lookedThisTurn = false;
  };

  constructor(connection: SqliteConnection) {
    this.#connection = connection;
    this.#readWallet = connection.prepare('select amount, fallback from wallets where id = ?');
    this.#dataVersion = connection.prepare('pragma data_version').pluck();
    this.#totalChanges = connection.prepare('select total_changes()').pluck();
  }

  /**
   * Takes `amount` from the application's quota, else (where the quota wallet allows it)
   * from the person's balance. Returns the wallet held on, or null: not enough.
   */
  hold(target: MemoryHoldTarget, amount: number): string | null {
    const keep = this.#checkKept();
    if (target.applicationId !== null) {
      const quota = this.#read(target.applicationId, keep);
      if (quota !== undefined && this.#take(target.applicationId, quota, amount)) return target.applicationId;
      if (quota?.fallback !== 'balance') return null;
    }
    const balance = this.#read(target.personId, keep);
    return balance !== undefined && this.#take(target.personId, balance, amount) ? target.personId : null;
  }

  /**
   * Gives back a hold whose settlement has committed. That transaction already wrote the
   * wallet's mirror as it is after this release, so the wallet is not marked for another.
   */
  release(walletId: string, amount: number): void {
    if (amount === 0) return;
    const held = this.#held.get(walletId);
    if (held === undefined) return;
    this.#held.set(walletId, Math.max(0, held - amount));
  }

  /** What running requests hold on the wallet right now. */
  heldOn(walletId: string): number {
    return this.#held.get(walletId) ?? 0;
  }

  /**
   * The wallets whose mirror is out of date; the caller writes them and, if its transaction
   * fails, hands them back with `stillDirty`.
   */
  takeDirty(): ReadonlySet<string> {
    const dirty = this.#dirty;
    this.#dirty = new Set();
    return dirty;
  }

  stillDirty(walletIds: Iterable<string>): void {
    for (const id of walletIds) this.#dirty.add(id);
  }

  /** Forgets every hold (the server stops; the mirror is reset on disk by the caller). */
  clear(): void {
    this.#held.clear();
    this.#dirty.clear();
    this.#kept.clear();
  }

  /**
   * Settlement's synchronous commit, on this connection: `write` runs it, and `charged` is
   * what it takes off each wallet. The kept amounts follow it, unless something else wrote
   * since they were last checked, or the commit failed: then they are forgotten.
   */
  ownWrite<T>(charged: ReadonlyMap<string, number>, write: () => T): T {
    // A look of its own, never the turn's: the counters are moved past this commit below, and
    // must not be moved past a write nobody has looked at.
    if (!this.#checkKept(true)) return write();
    let result: T;
    try {
      result = write();
    } catch (error) {
      this.#kept.clear();
      throw error;
    }
    for (const [walletId, cost] of charged) {
      const wallet = this.#kept.get(walletId);
      if (wallet !== undefined) wallet.amount -= cost;
    }
    this.#seenChanges = this.#totalChanges.get();
    return result;
  }

  /** Forgets the kept amounts (a write this class cannot follow, such as settlement through Kysely). */
  forgetAmounts(): void {
    this.#kept.clear();
  }

  /**
   * Forgets the kept amounts if another connection committed, or this one wrote, since the
   * last look. Inside a transaction of this connection (Kysely's, still open), nothing is kept:
   * what it wrote may yet be rolled back, which moves neither counter. Says whether to keep.
   *
   * The holds of one turn of the event loop share one look (the two statements cost a
   * request more than its settlement). That is no weaker: a hold that uses the turn's look
   * sees the wallet as it was a moment earlier in the same turn, exactly as if it had come
   * first, before the other write; the holds it sees are all of them, in this process.
   */
  #checkKept(own = false): boolean {
    if (this.#connection.inTransaction) {
      this.#kept.clear();
      this.#seenChanges = null;
      this.#lookedThisTurn = false;
      return false;
    }
    if (this.#lookedThisTurn && !own) return true;
    if (!this.#lookedThisTurn) {
      this.#lookedThisTurn = true;
      nextTurn(this.#endTurn);
    }
    const version = this.#dataVersion.get();
    const changes = this.#totalChanges.get();
    if (version === this.#seenVersion && changes === this.#seenChanges) return true;
    this.#kept.clear();
    this.#seenVersion = version;
    this.#seenChanges = changes;
    return true;
  }

  /** Drops the wallets that hold nothing now (they are 0 whether listed or not). */
  #forgetReleased(): void {
    for (const [walletId, held] of this.#held) if (held === 0) this.#held.delete(walletId);
  }

  #read(walletId: string, keep: boolean): WalletRead | undefined {
    const kept = this.#kept.get(walletId);
    if (kept !== undefined) return kept;
    const wallet = this.#readWallet.get(walletId) as WalletRead | undefined;
    if (wallet === undefined || !keep) return wallet;
    if (this.#kept.size >= KEPT_WALLETS) this.#kept.clear();
    this.#kept.set(walletId, wallet);
    return wallet;
  }

  #take(walletId: string, wallet: WalletRead, amount: number): boolean {
    const held = this.#held.get(walletId);
    if (wallet.amount - (held ?? 0) < amount) return false;
    if (held === undefined && this.#held.size >= KEPT_WALLETS) this.#forgetReleased();
    this.#held.set(walletId, (held ?? 0) + amount);
    this.#dirty.add(walletId);
    return true;
  }
}
