/**
 * Group commit for settlement (docs/billing.md, "Settlement"). Each finished request
 * enqueues its settlement; a batch (every few milliseconds, or as soon as it is full) commits
 * the usage rows, the wallet changes and the removal of the holds in ONE transaction, and
 * every settle() of the batch resolves when that transaction has committed. So a response's
 * billing is durable before its last byte is sent, at the cost of one commit per batch
 * rather than per request.
 */
import type { Insertable, Kysely, Transaction } from 'kysely';
import type { Database, UsageTable } from '../store/database.js';

export interface Settlement {
  /** The usage row; its trace id is the hold's key. */
  usage: Insertable<UsageTable>;
  /** The wallet the hold is on, charged `usage.cost`; null when nothing was held. */
  walletId: string | null;
  /** The amount held, given back now. */
  held: number;
}

export interface SettlementBatcherOptions {
  /**
   * Longest a settlement waits for its batch to fill. Absent (the default), a batch is
   * everything that finished in the same turn of the event loop, plus whatever arrives
   * while the previous batch commits: no settlement waits on a timer, so a lone request
   * is not slowed down, and under load batches grow by themselves. 0 commits each on its
   * own (no group commit).
   */
  maxDelayMs?: number;
  maxBatch?: number;
}

interface Pending {
  settlement: Settlement;
  resolve(): void;
  reject(error: unknown): void;
}

export class SettlementBatcher {
  readonly #maxDelayMs: number | undefined;
  readonly #maxBatch: number;
  #queue: Pending[] = [];
  #timer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  #flushing: Promise<void> = Promise.resolve();

  /**
   * `recordedHolds`: holds have rows (PostgreSQL) that settlement removes; only holds still
   * there are given back, so one an orphan sweep already released is not given back twice.
   */
  constructor(
    private readonly db: Kysely<Database>,
    private readonly recordedHolds: boolean,
    options: SettlementBatcherOptions = {},
  ) {
    this.#maxDelayMs = options.maxDelayMs;
    this.#maxBatch = options.maxBatch ?? 256;
  }

  settle(settlement: Settlement): Promise<void> {
    if (this.#maxDelayMs === 0) return this.db.transaction().execute((trx) => commit(trx, [settlement], this.recordedHolds));
    return new Promise((resolve, reject) => {
      this.#queue.push({ settlement, resolve, reject });
      if (this.#maxDelayMs === undefined) this.#flushAfterThisTurn();
      else if (this.#queue.length >= this.#maxBatch) this.#flushSoon(0);
      else this.#flushSoon(this.#maxDelayMs);
    });
  }

  #flushAfterThisTurn(): void {
    if (this.#immediate !== undefined) return;
    this.#immediate = setImmediate(() => {
      this.#immediate = undefined;
      void this.#drain();
    });
  }

  /** Commits whatever is queued and waits for batches in flight. */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    clearImmediate(this.#immediate);
    this.#immediate = undefined;
    await this.#drain();
  }

  #flushSoon(delayMs: number): void {
    if (this.#timer !== undefined && delayMs > 0) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#drain();
    }, delayMs);
  }

  /** Batches commit one after another: a batch waits for the previous one, then takes the queue. */
  #drain(): Promise<void> {
    this.#flushing = this.#flushing.then(async () => {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.#maxBatch);
        await this.#commitBatch(batch);
      }
    });
    return this.#flushing;
  }

  async #commitBatch(batch: Pending[]): Promise<void> {
    try {
      await this.db.transaction().execute((trx) => commit(trx, batch.map((p) => p.settlement), this.recordedHolds));
      for (const p of batch) p.resolve();
    } catch (error) {
      if (batch.length === 1) {
        batch[0]?.reject(error);
        return;
      }
      // One bad settlement must not fail its neighbours: retry each on its own.
      for (const p of batch) await this.#commitBatch([p]);
    }
  }
}

/** Usage rows, holds removed, wallets charged: one transaction for the whole batch. */
async function commit(trx: Transaction<Database>, settlements: readonly Settlement[], recordedHolds: boolean): Promise<void> {
  const traceIds = settlements.map((s) => s.usage.trace_id);
  const released = recordedHolds
    ? await trx.deleteFrom('holds').where('trace_id', 'in', traceIds).returning(['wallet_id', 'amount']).execute()
    : settlements.flatMap((s) => (s.walletId === null ? [] : [{ wallet_id: s.walletId, amount: s.held }]));
  // One update per wallet (charge and hold release together), in id order: a fixed lock
  // order keeps concurrent batches of several replicas free of deadlocks on PostgreSQL.
  const changes = new Map<string, { cost: number; held: number }>();
  const change = (walletId: string) => {
    let entry = changes.get(walletId);
    if (entry === undefined) changes.set(walletId, (entry = { cost: 0, held: 0 }));
    return entry;
  };
  for (const s of settlements) if (s.walletId !== null) change(s.walletId).cost += s.usage.cost;
  for (const h of released) change(h.wallet_id).held += h.amount;
  for (const [walletId, { cost, held }] of [...changes].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (cost === 0 && held === 0) continue;
    await trx
      .updateTable('wallets')
      .set((eb) => ({ amount: eb('amount', '-', cost), held: eb('held', '-', held) }))
      .where('id', '=', walletId)
      .execute();
  }
  // SQLite caps bound parameters per statement (32,766); 17 columns × 500 rows stays under it.
  for (let i = 0; i < settlements.length; i += 500) {
    await trx.insertInto('usage').values(settlements.slice(i, i + 500).map((s) => s.usage)).execute();
  }
}
