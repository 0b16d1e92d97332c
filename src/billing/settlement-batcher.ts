/**
 * Group commit for settlement (docs/billing.md, "Settlement"). Each finished request
 * enqueues its settlement; a batch (every few milliseconds, or as soon as it is full) commits
 * the usage rows, the wallet changes and the removal of the holds in ONE transaction, and
 * every settle() of the batch resolves when that transaction has committed. So a response's
 * billing is durable before its last byte is sent, at the cost of one commit per batch
 * rather than per request.
 *
 * A settlement the store does not take (it is unreachable, or locked) is never lost
 * (docs/billing.md, "When the store is down"): it is appended to the local spool (fsync'd),
 * its settle() resolves (its billing is durable there), and it is retried with backoff until
 * it lands. A retry is idempotent: the usage row's key (created_at, trace_id) is fixed at
 * admission, so a row that did land (a commit whose answer was lost) is found, not billed
 * again, and only a row newly written moves money.
 */
import { sql, type Insertable, type Kysely, type Transaction } from 'kysely';
import type { Database, UsageTable } from '../store/database.js';
import type { SqliteConnection, Store } from '../store/open-store.js';
import { PreparedInsert, PreparedQuery } from '../store/prepared-query.js';
import type { HoldLedger } from './hold-ledger.js';
import type { MemoryHolds } from './memory-holds.js';
import type { SettlementJournal } from './settlement-journal.js';
import type { SettlementSpool } from './settlement-spool.js';

export interface Settlement {
  /** The usage row; its trace id is the hold's key. */
  usage: Insertable<UsageTable>;
  /** The wallet the hold is on, charged `usage.cost`; null when nothing was held. */
  walletId: string | null;
  /** The amount held, given back now. */
  held: number;
}

/** Something went wrong with settlements, for the log (a warning: nothing is lost). */
export interface SettlementTrouble {
  /**
   * `deferred`: settlements the store refused, now spooled and retried; `retry`: a retry
   * failed; `spool`: the spool could not be written (kept in memory); `journal`: the journal
   * could not be written (that batch committed before its requests were let go).
   */
  kind: 'deferred' | 'retry' | 'spool' | 'journal';
  error: unknown;
  /** Settlements waiting for the store after this. */
  pending: number;
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
  /** Where settlements the store refused are kept across a stop; without one, in memory only. */
  spool?: SettlementSpool;
  /**
   * SQLite, with a spool: a batch of up to JOURNAL_MAX_BATCH is journaled, its requests are
   * let go, and it commits right after their responses (settlement-journal.ts). Without one,
   * each commits first.
   */
  journal?: SettlementJournal;
  /** First wait before a retry (doubled after each failed round, up to retryMaxMs). */
  retryFirstMs?: number;
  retryMaxMs?: number;
  onTrouble?: (trouble: SettlementTrouble) => void;
}

interface Pending {
  settlement: Settlement;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * The largest batch that is journaled before its commit. A larger one is a server under load,
 * where the commit's cost shared by the batch is small and the journal's line per settlement
 * (a JSON text, about 2 µs) would cost about as much as the commit saves: it commits first.
 */
const JOURNAL_MAX_BATCH = 4;

/**
 * After the journal failed to take a batch (a full disk, a file it may not write), this many
 * batches commit first before it is tried again: one warning per failure, not one per batch.
 */
const JOURNAL_REST_BATCHES = 1_000;

/** Turns of the event loop a default batch may gather while each brings more settlements. */
const GATHER_TURNS = 4;

const DEFAULT_RETRY_FIRST_MS = 200;
const DEFAULT_RETRY_MAX_MS = 10_000;

export class SettlementBatcher {
  private readonly db: Kysely<Database>;
  private readonly recordedHolds: boolean;
  /** SQLite: the holds (in memory) and the synchronous commit on the store's connection. */
  readonly #memory: MemoryHolds | null;
  readonly #sqlite: SqliteCommit | null;
  readonly #maxDelayMs: number | undefined;
  readonly #maxBatch: number;
  #queue: Pending[] = [];
  #timer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  #flushing: Promise<void> = Promise.resolve();
  readonly #queries: SettlementQueries;
  readonly #spool: SettlementSpool | undefined;
  readonly #journal: SettlementJournal | undefined;
  /** A journaled batch waits for the microtasks to run out before it commits: this commits it now instead. */
  #landNow: (() => void) | null = null;
  /** Settles once the batch whose requests were let go before its commit has committed, or been spooled. */
  #letGo: Promise<void> | null = null;
  /** Batches still to commit first before the journal is tried again after a failure (JOURNAL_REST_BATCHES). */
  #journalRest = 0;
  readonly #retryFirstMs: number;
  readonly #retryMaxMs: number;
  readonly #onTrouble: (trouble: SettlementTrouble) => void;
  /** Settlements the store refused, in order, until they land (all of them are in the spool). */
  readonly #deferred = new Set<Settlement>();
  /** PostgreSQL: trace ids of refused requests whose hold may have been taken (its answer lost). */
  readonly #uncertainHolds = new Set<string>();
  #retryTimer: NodeJS.Timeout | undefined;
  #retryDelayMs: number;
  #failures = 0;
  #closed = false;

  /**
   * `holds`: on PostgreSQL holds have rows that settlement removes; only holds still there
   * are given back, so one an orphan sweep already released is not given back twice. On
   * SQLite they are in memory (`holds.memory`): settlement releases them once committed, and
   * writes the `held` mirror of the wallets it touches in the same transaction.
   */
  constructor(store: Pick<Store, 'db' | 'sqlite'>, holds: Pick<HoldLedger, 'recordsHolds' | 'memory'>, options: SettlementBatcherOptions = {}) {
    this.db = store.db;
    this.recordedHolds = holds.recordsHolds;
    this.#memory = holds.memory;
    this.#sqlite = store.sqlite === null ? null : new SqliteCommit(store.sqlite);
    this.#maxDelayMs = options.maxDelayMs;
    this.#maxBatch = options.maxBatch ?? 256;
    this.#queries = new SettlementQueries(store.db);
    this.#spool = options.spool;
    // Journaled commits are SQLite's synchronous ones, whose holds are in memory.
    this.#journal = store.sqlite !== null && options.spool !== undefined ? options.journal : undefined;
    this.#retryFirstMs = options.retryFirstMs ?? DEFAULT_RETRY_FIRST_MS;
    this.#retryMaxMs = options.retryMaxMs ?? DEFAULT_RETRY_MAX_MS;
    this.#retryDelayMs = this.#retryFirstMs;
    this.#onTrouble = options.onTrouble ?? (() => undefined);
  }

  /**
   * What waits for the store: settlements (spooled, retried) and the uncertain holds still to
   * give back. /readyz and `moongate_settlements_pending` read it, so neither says that
   * everything landed while a refused request's hold is still on its wallet.
   */
  get pending(): number {
    return this.#deferred.size + this.#uncertainHolds.size;
  }

  /** Failed attempts to commit settlements, since start (each batch or retry that failed counts once). */
  get failures(): number {
    return this.#failures;
  }

  /**
   * Resolves once the settlement is durable: committed, or (the store refused it) in the
   * spool with retries under way. Rejects only if it could be neither committed nor spooled
   * and the process is stopping.
   */
  settle(settlement: Settlement): Promise<void> {
    return new Promise((resolve, reject) => {
      const pending = { settlement, resolve, reject };
      // One transaction each, still one after another: a commit and the release of its holds
      // must not interleave with another's (the SQLite mirror is computed from memory).
      if (this.#maxDelayMs === 0) return void (this.#flushing = this.#flushing.then(() => this.#commitBatch([pending])));
      this.#queue.push(pending);
      if (this.#maxDelayMs === undefined) this.#flushAfterThisTurn();
      else if (this.#queue.length >= this.#maxBatch) this.#flushSoon(0);
      else this.#flushSoon(this.#maxDelayMs);
    });
  }

  /**
   * The default batch: what finished in this turn of the event loop, and, while every turn
   * brings more, the next few turns' too (GATHER_TURNS). A lone request's batch commits one
   * turn later, which costs it microseconds; under load a batch takes the settlements of
   * several turns in one transaction, where each turn's own would cost a commit each.
   */
  #flushAfterThisTurn(): void {
    if (this.#immediate !== undefined) return;
    let seen = this.#queue.length;
    let turns = 1;
    const endOfTurn = (): void => {
      const grew = this.#queue.length > seen;
      if (grew && turns < GATHER_TURNS && this.#queue.length < this.#maxBatch) {
        seen = this.#queue.length;
        turns++;
        this.#immediate = setImmediate(endOfTurn);
        return;
      }
      this.#immediate = undefined;
      void this.#drain();
    };
    this.#immediate = setImmediate(endOfTurn);
  }

  /**
   * Null when every settlement whose request was let go has committed; otherwise commits the
   * journaled batch now (not a turn later) and resolves once it has. What reads the money or
   * the usage log waits for it (a hold refused for want of balance, the console's reads), so
   * nobody sees a response's billing missing.
   */
  landing(): Promise<void> | null {
    if (this.#letGo === null) return null;
    this.#landNow?.();
    return this.#letGo;
  }

  /** Commits whatever is queued and waits for batches in flight. */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    clearImmediate(this.#immediate);
    this.#immediate = undefined;
    await this.#drain();
  }

  /**
   * Reads the spool a previous process left and settles what is in it, before this one
   * takes traffic. Their holds were released when this process started (SQLite resets every
   * hold; PostgreSQL gives back the rows settlement does not find), so they are charged
   * only. Whatever the store does not take yet stays in the spool and is retried.
   */
  async replaySpool(): Promise<{ found: number; landed: number; unreadable: number }> {
    if (this.#spool === undefined) return { found: 0, landed: 0, unreadable: 0 };
    // What the journal holds may not have landed (the process stopped between a response and
    // its commit): into the spool with the rest (fsync'd), replayed like it, each once.
    // A journal that cannot be read fails the start: what it holds may be owed.
    let tornInJournal = 0;
    if (this.#journal !== undefined) {
      const journaled = this.#journal.read();
      tornInJournal = journaled.unreadable;
      if (journaled.settlements.length > 0) await this.#spool.append(journaled.settlements);
      try {
        this.#journal.clear();
      } catch (error) {
        // Everything in it is in the spool now (replayed again, it moves nothing twice).
        this.#restJournal(error);
      }
    }
    const spooled = await this.#spool.read();
    const { settlements } = spooled;
    const unreadable = spooled.unreadable + tornInJournal;
    for (const settlement of settlements) this.#deferred.add({ ...settlement, held: 0 });
    if (settlements.length === 0) {
      if (unreadable > 0) await this.#spool.clear();
      return { found: 0, landed: 0, unreadable };
    }
    await this.#retryRound();
    return { found: settlements.length, landed: settlements.length - this.#deferred.size, unreadable };
  }

  /**
   * Commits what is queued, makes one more try at what waits for the store, and stops
   * retrying. Whatever is still waiting is in the spool, for the next start.
   */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    if (this.#deferred.size > 0 || this.#uncertainHolds.size > 0) await this.#retryRound();
    await this.#flushing;
    await this.#spool?.close();
    // Everything journaled has landed (or is in the spool): a clean stop leaves no journal to replay.
    if (this.#deferred.size === 0) {
      try {
        this.#journal?.clear();
      } catch (error) {
        this.#onTrouble({ kind: 'journal', error, pending: 0 });
      }
    }
    this.#journal?.close();
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
    const ahead = this.#journalAhead(batch);
    if (ahead === null) return this.#commitOrDefer(batch, false);
    let done = (): void => undefined;
    this.#letGo = new Promise((resolve) => {
      done = resolve;
    });
    try {
      await ahead;
      await this.#commitOrDefer(batch, true);
    } finally {
      this.#letGo = null;
      done();
    }
  }

  async #commitOrDefer(batch: Pending[], journaled: boolean): Promise<void> {
    try {
      await this.#commit(batch.map((p) => p.settlement));
      for (const p of batch) p.resolve();
      // Emptied only when nothing waits for the store: one not spooled has only the journal.
      if (journaled && this.#deferred.size === 0) this.#journal?.landed();
      return;
    } catch (error) {
      this.#failures++;
      if (batch.length === 1) return this.#defer(batch, error);
      // One bad settlement must not fail its neighbours, but with the store away trying each
      // would only fail each: the first alone tells which it is, unless the store refused
      // that one's own values (it answered, so the others are tried alone too).
      const [first, ...rest] = batch as [Pending, ...Pending[]];
      if ((await this.#alone(first)) === 'away') return this.#defer(rest, error);
      for (const p of rest) await this.#alone(p);
    }
  }

  /**
   * With a journal: appends the batch to it, lets its requests go, and waits for the
   * microtasks to run out, or for `landing()`. Letting them go resolves their settle()
   * promises, whose continuations (running now, one microtask after another) write their
   * responses; a process.nextTick callback queued now runs once the microtask queue is empty
   * (Node drains it before the next tick), so the commit follows the responses within this
   * turn of the event loop, before any other I/O is read. Null when it did not: a journal that
   * fails, or a batch larger than JOURNAL_MAX_BATCH, leaves the batch to commit first.
   */
  #journalAhead(batch: Pending[]): Promise<void> | null {
    const journal = this.#journal;
    if (journal === undefined || this.#closed || batch.length > JOURNAL_MAX_BATCH) return null;
    if (this.#journalRest > 0) {
      this.#journalRest--;
      return null;
    }
    try {
      journal.append(batch.map((p) => p.settlement));
    } catch (error) {
      this.#restJournal(error);
      return null;
    }
    for (const p of batch) p.resolve();
    return new Promise((resolve) => {
      const land = (): void => {
        if (this.#landNow !== land) return;
        this.#landNow = null;
        resolve();
      };
      this.#landNow = land;
      process.nextTick(land);
    });
  }

  /** The journal failed: said once, and left alone for the next JOURNAL_REST_BATCHES batches. */
  #restJournal(error: unknown): void {
    this.#journalRest = JOURNAL_REST_BATCHES;
    this.#onTrouble({ kind: 'journal', error, pending: this.#deferred.size });
  }

  /** Commits one settlement on its own; a failure defers it. */
  async #alone(p: Pending): Promise<Attempt> {
    try {
      await this.#commit([p.settlement]);
      p.resolve();
      return 'landed';
    } catch (error) {
      this.#failures++;
      await this.#defer([p], error);
      return attemptFailed(error);
    }
  }

  /** The hot path: the usage rows are new (first attempt), so a plain insert; a duplicate would fail it whole. */
  async #commit(settlements: readonly Settlement[]): Promise<void> {
    const memory = this.#memory;
    const sqlite = this.#sqlite;
    if (memory !== null && sqlite?.idle === true) {
      const costs = costsOf(settlements);
      return mirrored(memory, settlements, (mirror) => memory.ownWrite(costs, () => sqlite.commit(settlements, costs, mirror)));
    }
    return this.#transaction(settlements, (trx, mirror) => commit(trx, this.#queries, settlements, mirror));
  }

  /** A settlement transaction through Kysely; on SQLite it writes the mirror (see `mirrored`). */
  #transaction(settlements: readonly Settlement[], work: (trx: Transaction<Database>, mirror: Mirror | null) => Promise<void>): Promise<void> {
    const memory = this.#memory;
    if (memory === null) return this.db.transaction().execute((trx) => work(trx, null));
    // Through Kysely other writes may come in between: the amounts memory keeps are read again.
    return mirrored(memory, settlements, (mirror) =>
      this.db
        .transaction()
        .execute((trx) => work(trx, mirror))
        .finally(() => memory.forgetAmounts()),
    );
  }

  /**
   * PostgreSQL: a hold whose statement failed may still have committed (the store took it
   * and the answer was lost). Its request was refused, so whatever it holds is given back,
   * with the retries (in memory: if this process stops first, its lease sweep releases it).
   */
  releaseUncertainHold(traceId: string): void {
    this.#uncertainHolds.add(traceId);
    this.#scheduleRetry();
  }

  /** The store refused these: spool them (durable), let their requests end, retry later. */
  async #defer(batch: Pending[], error: unknown): Promise<void> {
    for (const p of batch) this.#deferred.add(p.settlement);
    this.#onTrouble({ kind: 'deferred', error, pending: this.#deferred.size });
    let spooled = this.#spool === undefined;
    if (this.#spool !== undefined) {
      try {
        await this.#spool.append(batch.map((p) => p.settlement));
        spooled = true;
      } catch (spoolError) {
        this.#onTrouble({ kind: 'spool', error: spoolError, pending: this.#deferred.size });
      }
    }
    for (const p of batch) {
      // Kept in memory and retried either way; only a stopping process cannot keep an unspooled one.
      if (spooled || !this.#closed) p.resolve();
      else p.reject(error);
    }
    this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    if (this.#retryTimer !== undefined || this.#closed || (this.#deferred.size === 0 && this.#uncertainHolds.size === 0)) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#retryRound();
    }, this.#retryDelayMs);
    // A process that is done otherwise need not stay up for this: what waits is in the spool.
    this.#retryTimer.unref();
  }

  /**
   * One pass over what waits, in batches, each idempotent. Runs in the same line as the
   * batches (never beside one). A failed batch is tried one by one, unless its first
   * settlement alone fails as if the store were away: then the round ends. One the store
   * refuses for its own values (it answered) is skipped, kept and reported on every round,
   * and never holds the others back.
   */
  #retryRound(): Promise<void> {
    this.#flushing = this.#flushing.then(async () => {
      if (this.#uncertainHolds.size > 0 && this.recordedHolds) await this.#releaseUncertainHolds();
      const waiting = [...this.#deferred];
      for (let i = 0; i < waiting.length; i += this.#maxBatch) {
        const batch = waiting.slice(i, i + this.#maxBatch);
        const whole = await this.#retry(batch);
        if (whole === 'landed') continue;
        // The store is still away: the rest of the round would only fail the same way.
        const first = batch.length === 1 ? whole : await this.#retry(batch.slice(0, 1));
        if (first === 'away') break;
        for (const settlement of batch.slice(1)) await this.#retry([settlement]);
      }
      if (this.#deferred.size === 0 && this.#uncertainHolds.size === 0) {
        this.#retryDelayMs = this.#retryFirstMs;
        await this.#spool?.clear().catch((error: unknown) => this.#onTrouble({ kind: 'spool', error, pending: 0 }));
        return;
      }
      this.#retryDelayMs = Math.min(this.#retryMaxMs, this.#retryDelayMs * 2);
      this.#scheduleRetry();
    });
    return this.#flushing;
  }

  async #releaseUncertainHolds(): Promise<void> {
    const traceIds = [...this.#uncertainHolds];
    try {
      await this.db.transaction().execute(async (trx) => {
        const { rows } = await this.#queries.releaseHolds.execute(trx, { traceIds });
        await moveMoney(trx, this.#queries, [], null, rows);
      });
      for (const traceId of traceIds) this.#uncertainHolds.delete(traceId);
    } catch (error) {
      this.#failures++;
      this.#onTrouble({ kind: 'retry', error, pending: this.#deferred.size });
    }
  }

  async #retry(settlements: readonly Settlement[]): Promise<Attempt> {
    try {
      await this.#transaction(settlements, (trx, mirror) => commitOnce(trx, this.#queries, settlements, mirror));
      for (const settlement of settlements) this.#deferred.delete(settlement);
      return 'landed';
    } catch (error) {
      this.#failures++;
      this.#onTrouble({ kind: 'retry', error, pending: this.#deferred.size });
      return attemptFailed(error);
    }
  }
}

/**
 * How a commit went: it landed, the store refused the settlements' own values (it answered:
 * others may land), or it failed as a store that is away does (others would fail too).
 */
type Attempt = 'landed' | 'refused' | 'away';

/**
 * PostgreSQL's SQLSTATE classes 22 (data exception: a value out of range, too long) and 23
 * (integrity constraint), and SQLite's codes for the same, are about the values written, not
 * about the store being reachable.
 */
function attemptFailed(error: unknown): Attempt {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  if (typeof code !== 'string') return 'away';
  return /^2[23][0-9A-Z]{3}$/.test(code) || /^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG|RANGE)/.test(code) ? 'refused' : 'away';
}

/**
 * SQLite: a batch's settlement as one synchronous better-sqlite3 transaction on the store's
 * connection, the same statements `commit` runs through Kysely. Kysely's asynchronous path
 * (a promise and a lock per statement, begin and commit included) cost about three times
 * the statements themselves, and a lone request pays it whole. Nothing else can run on the
 * connection while it runs; it is used only when Kysely has no transaction open there (one
 * would take these statements into itself), otherwise the batch goes through Kysely.
 */
class SqliteCommit {
  readonly #connection: SqliteConnection;
  readonly #run: (settlements: readonly Settlement[], costs: ReadonlyMap<string, number>, mirror: Mirror) => void;

  constructor(connection: SqliteConnection) {
    this.#connection = connection;
    const insertUsage = connection.prepare(`insert into "usage" (${USAGE_COLUMNS.map((c) => `"${c}"`).join(', ')}) values (${USAGE_COLUMNS.map(() => '?').join(', ')})`);
    const chargeAndMirror = connection.prepare('update "wallets" set "amount" = "amount" - ?, "held" = ? where "id" = ?');
    this.#run = connection.transaction((settlements: readonly Settlement[], costs: ReadonlyMap<string, number>, mirror: Mirror) => {
      for (const walletId of sortedIds(new Set([...costs.keys(), ...mirror.keys()]))) {
        chargeAndMirror.run(costs.get(walletId) ?? 0, mirror.get(walletId) ?? 0, walletId);
      }
      for (const { usage } of settlements) insertUsage.run(USAGE_COLUMNS.map((column) => usage[column] ?? null));
    });
  }

  /** Whether the connection is outside any transaction (Kysely's included). */
  get idle(): boolean {
    return !this.#connection.inTransaction;
  }

  /** `costs`: what each wallet is charged (costsOf the settlements). */
  commit(settlements: readonly Settlement[], costs: ReadonlyMap<string, number>, mirror: Mirror): void {
    this.#run(settlements, costs, mirror);
  }
}

/** The three statements settlement runs, compiled once per database (prepared-query.ts). */
class SettlementQueries {
  /** PostgreSQL: the batch's holds, removed; only those still there are given back. */
  readonly releaseHolds: PreparedQuery<{ wallet_id: string; amount: number }>;
  readonly chargeWallet: PreparedQuery<unknown>;
  /** SQLite: the charge, and the wallet's `held` mirror set to what memory holds. */
  readonly chargeAndMirror: PreparedQuery<unknown>;
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
    this.chargeAndMirror = new PreparedQuery((slot) =>
      db
        .updateTable('wallets')
        .set((eb) => ({ amount: eb('amount', '-', slot<number>('cost')), held: slot<number>('held') }))
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
  'cache_write_tokens',
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
async function commit(
  trx: Transaction<Database>,
  queries: SettlementQueries,
  settlements: readonly Settlement[],
  mirror: Mirror | null,
): Promise<void> {
  await moveMoney(trx, queries, settlements, mirror);
  // SQLite caps bound parameters per statement (32,766); 17 columns × 500 rows stays under it.
  for (let i = 0; i < settlements.length; i += 500) {
    await queries.insertUsage.execute(
      trx,
      settlements.slice(i, i + 500).map((s) => s.usage),
    );
  }
}

/**
 * A retry: the rows are written only where their key is not there yet (`on conflict do
 * nothing`), and money moves only for the rows just written. A settlement that landed
 * before (a commit whose answer was lost, a spool replayed twice) changes nothing.
 */
async function commitOnce(
  trx: Transaction<Database>,
  queries: SettlementQueries,
  settlements: readonly Settlement[],
  mirror: Mirror | null,
): Promise<void> {
  const written = await trx
    .insertInto('usage')
    .values(settlements.map((s) => s.usage))
    .onConflict((conflict) => conflict.doNothing())
    .returning(['trace_id'])
    .execute();
  const fresh = new Set(written.map((row) => row.trace_id));
  await moveMoney(
    trx,
    queries,
    settlements.filter((s) => fresh.has(s.usage.trace_id)),
    mirror,
  );
}

/**
 * SQLite: runs `write`, a transaction that writes the `held` mirror of the wallets the
 * settlements touch (and of those whose holds changed since the last one) as it will be once
 * their holds are released. They are released in memory only after it committed, so until
 * then their money counts as charged and held, never as neither.
 */
function mirrored(memory: MemoryHolds, settlements: readonly Settlement[], write: (mirror: Mirror) => unknown): Promise<void> {
  const dirty = memory.takeDirty();
  const release = (): void => {
    for (const s of settlements) if (s.walletId !== null) memory.release(s.walletId, s.held);
  };
  const refused = (error: unknown): never => {
    memory.stillDirty(dirty);
    throw error;
  };
  let written: unknown;
  try {
    written = write(mirrorOf(memory, dirty, settlements));
  } catch (error) {
    return Promise.reject(error).catch(refused);
  }
  // A synchronous commit releases its holds in the same step: no other settlement can compute
  // its mirror between the commit and the release, and see holds already charged.
  if (!(written instanceof Promise)) {
    release();
    return Promise.resolve();
  }
  return written.then(release, refused);
}

/** SQLite: wallet id → the `held` figure to write, what memory holds once the batch is released. */
type Mirror = ReadonlyMap<string, number>;

function mirrorOf(memory: MemoryHolds, dirty: ReadonlySet<string>, settlements: readonly Settlement[]): Mirror {
  const mirror = new Map<string, number>();
  for (const walletId of dirty) mirror.set(walletId, memory.heldOn(walletId));
  for (const s of settlements) {
    if (s.walletId === null) continue;
    // Never below zero (the column's check would refuse the whole batch): a settlement carries
    // at most what it holds in memory, but the mirror is only a display and must not stop billing.
    mirror.set(s.walletId, Math.max(0, (mirror.get(s.walletId) ?? memory.heldOn(s.walletId)) - s.held));
  }
  return mirror;
}

/**
 * Wallets charged and holds given back. PostgreSQL: the holds' rows removed, and only the
 * holds still there given back; `releasedAlready`: holds the caller removed itself (a refused
 * request's uncertain hold), given back with the rest. SQLite: `mirror` sets each `held`.
 */
async function moveMoney(
  trx: Transaction<Database>,
  queries: SettlementQueries,
  settlements: readonly Settlement[],
  mirror: Mirror | null,
  releasedAlready: ReadonlyArray<{ wallet_id: string; amount: number }> = [],
): Promise<void> {
  const costs = costsOf(settlements);
  if (mirror !== null) {
    for (const walletId of sortedIds(new Set([...costs.keys(), ...mirror.keys()]))) {
      await queries.chargeAndMirror.execute(trx, { walletId, cost: costs.get(walletId) ?? 0, held: mirror.get(walletId) ?? 0 });
    }
    return;
  }
  if (settlements.length === 0 && releasedAlready.length === 0) return;
  const released = [
    ...releasedAlready,
    ...(settlements.length > 0
      ? (await queries.releaseHolds.execute(trx, { traceIds: settlements.map((s) => s.usage.trace_id) })).rows
      : []),
  ];
  // One update per wallet (charge and hold release together), in id order: a fixed lock
  // order keeps concurrent batches of several replicas free of deadlocks on PostgreSQL.
  const held = new Map<string, number>();
  for (const h of released) held.set(h.wallet_id, (held.get(h.wallet_id) ?? 0) + h.amount);
  for (const walletId of sortedIds(new Set([...costs.keys(), ...held.keys()]))) {
    const cost = costs.get(walletId) ?? 0;
    const release = held.get(walletId) ?? 0;
    if (cost === 0 && release === 0) continue;
    await queries.chargeWallet.execute(trx, { walletId, cost, held: release });
  }
}

/** Wallet id → the sum of the costs its settlements charge. */
function costsOf(settlements: readonly Settlement[]): Map<string, number> {
  const costs = new Map<string, number>();
  for (const s of settlements) if (s.walletId !== null) costs.set(s.walletId, (costs.get(s.walletId) ?? 0) + s.usage.cost);
  return costs;
}

function sortedIds(ids: ReadonlySet<string>): string[] {
  return [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
