/**
 * Group commit for settlement (docs/billing.md, "Settlement"). Each finished request
 * enqueues its settlement; a batch (every few milliseconds, or as soon as it is full) commits
 * the usage rows, the wallet changes and the removal of the holds in ONE transaction, and
 * every settle() of the batch resolves when that transaction has committed. So a response's
 * billing is durable before its last byte is sent, at the cost of one commit per batch
 * rather than per request.
 */
import { sql, type Insertable, type Kysely, type Transaction } from 'kysely';
import type { Database, UsageTable } from '../store/database.js';
import { PreparedInsert, PreparedQuery } from '../store/prepared-query.js';

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
  readonly #queries: SettlementQueries;

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
    this.#queries = new SettlementQueries(db);
  }

  settle(settlement: Settlement): Promise<void> {
    if (this.#maxDelayMs === 0) return this.db.transaction().execute((trx) => commit(trx, this.#queries, [settlement], this.recordedHolds));
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
      await this.db.transaction().execute((trx) => commit(trx, this.#queries, batch.map((p) => p.settlement), this.recordedHolds));
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

/** The three statements settlement runs, compiled once per database (prepared-query.ts). */
class SettlementQueries {
  /** PostgreSQL: the batch's holds, removed; only those still there are given back. */
  readonly releaseHolds: PreparedQuery<{ wallet_id: string; amount: number }>;
  readonly chargeWallet: PreparedQuery<unknown>;
  readonly insertUsage: PreparedInsert<Insertable<UsageTable>>;

  constructor(db: Kysely<Database>) {
    // One array parameter (`= any`), so the statement is the same whatever the batch's size.
    this.releaseHolds = new PreparedQuery((slot) =>
      sql<{ wallet_id: string; amount: number }>`delete from holds where trace_id = any(${slot('traceIds')}) returning wallet_id, amount`.compile(db),
    );
    this.chargeWallet = new PreparedQuery((slot) =>
      db
        .updateTable('wallets')
        .set((eb) => ({ amount: eb('amount', '-', slot<number>('cost')), held: eb('held', '-', slot<number>('held')) }))
        .where('id', '=', slot('walletId')),
    );
    this.insertUsage = new PreparedInsert((rows) => db.insertInto('usage').values(rows).compile(), USAGE_COLUMNS);
  }
}

/** Every column of a usage row: all are written, so a row's shape never changes the statement. */
export const USAGE_COLUMNS = [
  'trace_id',
  'created_at',
  'person_id',
  'credential_id',
  'service_id',
  'wallet_id',
  'model',
  'stream',
  'status',
  'error_code',
  'prompt_tokens',
  'cached_tokens',
  'completion_tokens',
  'cost',
  'duration_ms',
  'ttft_ms',
  'channel',
] as const satisfies ReadonlyArray<keyof UsageTable>;

/** Fails to compile when UsageTable gains a column the list above does not name. */
const USAGE_COLUMNS_COMPLETE: Exclude<keyof UsageTable, (typeof USAGE_COLUMNS)[number]> extends never ? true : never = true;
void USAGE_COLUMNS_COMPLETE;

/** Usage rows, holds removed, wallets charged: one transaction for the whole batch. */
async function commit(trx: Transaction<Database>, queries: SettlementQueries, settlements: readonly Settlement[], recordedHolds: boolean): Promise<void> {
  const released = recordedHolds
    ? (await queries.releaseHolds.execute(trx, { traceIds: settlements.map((s) => s.usage.trace_id) })).rows
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
    await queries.chargeWallet.execute(trx, { walletId, cost, held });
  }
  // SQLite caps bound parameters per statement (32,766); 17 columns × 500 rows stays under it.
  for (let i = 0; i < settlements.length; i += 500) {
    await queries.insertUsage.execute(
      trx,
      settlements.slice(i, i + 500).map((s) => s.usage),
    );
  }
}
