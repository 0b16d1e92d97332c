/**
 * SQLite's holds, kept in this process's memory (docs/billing.md, "Hold"). On SQLite one
 * server process owns the file (HoldLedger refuses a second one), so it is the only one that
 * holds: a hold needs no write, only a read of what the wallet has. The read is a prepared
 * better-sqlite3 statement run synchronously on the store's connection (a few µs), and the
 * check and the reservation happen in the same synchronous step, so no other request of this
 * process can come between them: concurrent holds can never reserve the same money twice.
 *
 * The wallet's `amount` is read every time, never cached: the CLI (another process) may add
 * to it at any moment (`balance add`, a top-up code), and settlement takes the cost off it.
 * A hold is released only after the settlement that charges its cost has committed, so
 * between the two the request's money counts twice (charged and still held), never zero times.
 *
 * The `held` column on disk becomes a mirror of these totals for the CLI and the console,
 * written with the settlement batch (no commit of its own): a wallet whose holds changed
 * since the last batch gets its current total then. A crash leaves the mirror's last figures,
 * which the next start resets to zero like every SQLite hold (HoldLedger.start).
 */
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

export class MemoryHolds {
  /** Wallet id → what running requests hold on it (only wallets with holds). */
  readonly #held = new Map<string, number>();
  /** Wallets whose total changed since the mirror was last written. */
  #dirty = new Set<string>();
  readonly #readWallet: { get(id: string): unknown };

  constructor(connection: SqliteConnection) {
    this.#readWallet = connection.prepare('select amount, fallback from wallets where id = ?');
  }

  /**
   * Takes `amount` from the application's quota, else (where the quota wallet allows it)
   * from the person's balance. Returns the wallet held on, or null: not enough.
   */
  hold(target: MemoryHoldTarget, amount: number): string | null {
    if (target.applicationId !== null) {
      const quota = this.#read(target.applicationId);
      if (quota !== undefined && this.#take(target.applicationId, quota, amount)) return target.applicationId;
      if (quota?.fallback !== 'balance') return null;
    }
    const balance = this.#read(target.personId);
    return balance !== undefined && this.#take(target.personId, balance, amount) ? target.personId : null;
  }

  /**
   * Gives back a hold whose settlement has committed. That transaction already wrote the
   * wallet's mirror as it is after this release, so the wallet is not marked for another.
   */
  release(walletId: string, amount: number): void {
    if (amount === 0) return;
    const left = (this.#held.get(walletId) ?? 0) - amount;
    if (left > 0) this.#held.set(walletId, left);
    else this.#held.delete(walletId);
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
  }

  #read(walletId: string): WalletRead | undefined {
    return this.#readWallet.get(walletId) as WalletRead | undefined;
  }

  #take(walletId: string, wallet: WalletRead, amount: number): boolean {
    const held = this.#held.get(walletId) ?? 0;
    if (wallet.amount - held < amount) return false;
    this.#held.set(walletId, held + amount);
    this.#dirty.add(walletId);
    return true;
  }
}
