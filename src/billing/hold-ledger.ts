/**
 * Holds: the worst case of each running request, taken from a wallet before the upstream
 * is called (docs/billing.md, "Holds"). A hold is ONE statement, a conditional update
 * (`held = held + X where amount - held >= X`) checked by its row count: the database
 * checks and reserves in one step, so concurrent requests can never reserve the same
 * money twice.
 *
 * How a crash is undone differs by dialect:
 * - PostgreSQL (several replicas): the same statement also records the hold (trace id,
 *   wallet, amount, owning instance) through a data-modifying CTE. Instances heartbeat;
 *   the holds of an instance whose lease ran out are released by whichever instance
 *   sweeps first (delete-returning: exactly once).
 * - SQLite (one server process per file, DESIGN.md): no hold row is needed. Every `held`
 *   total belongs to the running process, so a starting process resets them all to zero:
 *   whatever a crashed predecessor held is released, whatever it had settled is kept.
 */
import { randomBytes } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../store/database.js';
import type { StoreDialect } from '../store/migrate-to-latest.js';
import { PreparedQuery, type QueryRunner } from '../store/prepared-query.js';

/** One reservation's values (the slots of the prepared statement). */
interface Take {
  traceId: string;
  walletId: string;
  amount: number;
  via: string | null;
  instanceId: string;
  now: number;
}

export interface HoldTarget {
  personId: string;
  /** The application whose quota is tried first; null for a global credential. */
  applicationId: string | null;
}

export interface HoldLedgerOptions {
  /** How long an instance that stopped heartbeating still owns its holds (PostgreSQL). */
  leaseMs?: number;
  now?: () => number;
}

const DEFAULT_LEASE_MS = 60_000;

export class HoldLedger {
  /** `inst_<pid>_<random>`: on SQLite the pid tells whether the owner still runs. */
  readonly instanceId = `inst_${process.pid}_${randomBytes(12).toString('hex')}`;
  /** Whether holds have rows (and settlement must remove them). */
  readonly recordsHolds: boolean;
  readonly #leaseMs: number;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  /** SQLite: holds waiting for the end of this turn (see #runTurn). */
  #turn: Array<{ take: Take; resolve(taken: boolean): void; reject(error: unknown): void }> = [];
  readonly #reserve: PreparedQuery<unknown, keyof Take>;
  readonly #reserveVia: PreparedQuery<unknown, keyof Take>;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: StoreDialect,
    options: HoldLedgerOptions = {},
  ) {
    this.#leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.#now = options.now ?? Date.now;
    this.recordsHolds = dialect === 'postgres';
    this.#reserve = this.#prepareReserve(false);
    this.#reserveVia = this.#prepareReserve(true);
  }

  /**
   * Releases what crashed processes held, then (PostgreSQL) registers this instance and
   * heartbeats. Returns how many holds (PostgreSQL) or wallets (SQLite) were released.
   */
  async start(): Promise<number> {
    if (!this.recordsHolds) {
      await this.#claimSqlite();
      return this.#resetSqlite();
    }
    await this.db.insertInto('instances').values({ id: this.instanceId, heartbeat_at: this.#now() }).execute();
    const released = await this.releaseOrphans();
    this.#timer = setInterval(() => {
      void this.#beat().catch(() => undefined);
    }, Math.max(1_000, Math.floor(this.#leaseMs / 3)));
    this.#timer.unref();
    return released;
  }

  async #beat(): Promise<void> {
    await this.db.updateTable('instances').set({ heartbeat_at: this.#now() }).where('id', '=', this.instanceId).execute();
    await this.releaseOrphans();
  }

  /**
   * SQLite: refuses to start beside another live server on the same file (its holds would
   * be reset under it); the instances of dead processes are forgotten.
   */
  async #claimSqlite(): Promise<void> {
    const others = await this.db.selectFrom('instances').select('id').execute();
    for (const { id } of others) {
      const pid = Number(/^inst_(\d+)_/.exec(id)?.[1]);
      if (Number.isSafeInteger(pid) && pid !== process.pid && processIsAlive(pid)) {
        throw new Error(
          `another moongate server (pid ${pid}) is using this SQLite database; stop it first, or use PostgreSQL (DATABASE_URL) for several servers`,
        );
      }
    }
    await this.db.deleteFrom('instances').where('id', 'not like', `inst_${process.pid}_%`).execute();
    await this.db.insertInto('instances').values({ id: this.instanceId, heartbeat_at: this.#now() }).execute();
  }

  /** SQLite: no other process holds anything on this file. */
  async #resetSqlite(): Promise<number> {
    const reset = await this.db.updateTable('wallets').set({ held: 0 }).where('held', '!=', 0).executeTakeFirst();
    return Number(reset.numUpdatedRows);
  }

  /**
   * Takes `amount` from the application's quota, else (where the application allows it)
   * from the person's global balance. Returns the wallet held on, or null: not enough.
   */
  async hold(traceId: string, target: HoldTarget, amount: number): Promise<string | null> {
    if (target.applicationId !== null) {
      if (await this.#take(traceId, target.applicationId, amount, null)) return target.applicationId;
      return (await this.#take(traceId, target.personId, amount, target.applicationId)) ? target.personId : null;
    }
    return (await this.#take(traceId, target.personId, amount, null)) ? target.personId : null;
  }

  /** The conditional reservation; `via` names a quota wallet that must allow the fallback. */
  async #take(traceId: string, walletId: string, amount: number, via: string | null): Promise<boolean> {
    const take: Take = { traceId, walletId, amount, via, instanceId: this.instanceId, now: this.#now() };
    if (this.recordsHolds) return this.#run(this.db, take);
    return new Promise((resolve, reject) => {
      this.#turn.push({ take, resolve, reject });
      if (this.#turn.length === 1) setImmediate(() => void this.#runTurn());
    });
  }

  async #run(db: QueryRunner, take: Take): Promise<boolean> {
    const result = await (take.via === null ? this.#reserve : this.#reserveVia).execute(db, take);
    return (result.numAffectedRows ?? 0n) > 0n;
  }

  /**
   * SQLite: the holds asked for in one turn of the event loop run in one transaction, each
   * its own conditional update with its own answer: one commit (one write to the log) for
   * the turn instead of one per request. Holds are not kept across a restart on SQLite
   * (they are reset at start), so nothing waits for durability here; the transaction only
   * saves the work of a commit per hold.
   */
  async #runTurn(): Promise<void> {
    const turn = this.#turn;
    this.#turn = [];
    if (turn.length > 1) {
      try {
        const answers = await this.db.transaction().execute(async (trx) => {
          const taken: boolean[] = [];
          for (const { take } of turn) taken.push(await this.#run(trx, take));
          return taken;
        });
        turn.forEach((pending, i) => pending.resolve(answers[i] === true));
        return;
      } catch (error) {
        // Rolled back: nothing of the turn was held. A database locked by another process
        // past busy_timeout would only make each hold wait that long again (and better-sqlite3
        // waits synchronously), so the whole turn gets that error; any other failure is
        // tried hold by hold below, so one bad hold does not refuse its neighbours.
        if (isLockedError(error)) {
          for (const pending of turn) pending.reject(error);
          return;
        }
      }
    }
    for (const pending of turn) {
      try {
        pending.resolve(await this.#run(this.db, pending.take));
      } catch (error) {
        pending.reject(error);
      }
    }
  }

  /**
   * The reservation as one statement, compiled once (prepared-query.ts). On PostgreSQL it
   * also records the hold in the same round trip: the two commit together or not at all.
   */
  #prepareReserve(withFallback: boolean): PreparedQuery<unknown, keyof Take> {
    return new PreparedQuery((slot) => {
      const amount = slot<number>('amount');
      const fallback = withFallback
        ? sql`and exists (select 1 from wallets q where q.id = ${slot('via')} and q.fallback = 'balance')`
        : sql``;
      const reserve = sql`update wallets set held = held + ${amount} where id = ${slot('walletId')} and amount - held >= ${amount} ${fallback}`;
      if (!this.recordsHolds) return reserve.compile(this.db);
      const query = sql`
      with taken as (${reserve} returning id)
      insert into holds (trace_id, wallet_id, amount, instance_id, created_at)
      select ${slot('traceId')}, id, ${amount}::bigint, ${slot('instanceId')}, ${slot<number>('now')}::bigint from taken`;
      return query.compile(this.db);
    });
  }

  /**
   * PostgreSQL: gives back the holds of instances whose lease ran out. Delete-returning
   * makes each hold released once, even with several replicas sweeping at the same time.
   */
  async releaseOrphans(): Promise<number> {
    if (!this.recordsHolds) return 0;
    const expired = this.#now() - this.#leaseMs;
    return this.db.transaction().execute(async (trx) => {
      const released = await trx
        .deleteFrom('holds')
        .where('instance_id', '!=', this.instanceId)
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('instances as i')
                .select('i.id')
                .whereRef('i.id', '=', 'holds.instance_id')
                .where('i.heartbeat_at', '>=', expired),
            ),
          ),
        )
        .returning(['wallet_id', 'amount'])
        .execute();
      await giveBack(trx, released);
      await trx.deleteFrom('instances').where('id', '!=', this.instanceId).where('heartbeat_at', '<', expired).execute();
      return released.length;
    });
  }

  /** Stops heartbeating and leaves: holds still open now belong to nobody, so give them back. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    if (!this.recordsHolds) {
      await this.#resetSqlite();
      await this.db.deleteFrom('instances').where('id', '=', this.instanceId).execute();
      return;
    }
    await this.db.transaction().execute(async (trx) => {
      const released = await trx.deleteFrom('holds').where('instance_id', '=', this.instanceId).returning(['wallet_id', 'amount']).execute();
      await giveBack(trx, released);
      await trx.deleteFrom('instances').where('id', '=', this.instanceId).execute();
    });
  }
}

/** SQLITE_BUSY or SQLITE_LOCKED (and their extended codes): another connection has the lock. */
function isLockedError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user; only ESRCH means it is gone.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Lowers each wallet's held total by the holds just deleted. */
async function giveBack(trx: Transaction<Database>, holds: ReadonlyArray<{ wallet_id: string; amount: number }>): Promise<void> {
  const byWallet = new Map<string, number>();
  for (const h of holds) byWallet.set(h.wallet_id, (byWallet.get(h.wallet_id) ?? 0) + h.amount);
  // A fixed order (by id) on every path that updates several wallets avoids deadlocks on PostgreSQL.
  for (const [walletId, amount] of [...byWallet].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    await trx
      .updateTable('wallets')
      .set((eb) => ({ held: eb('held', '-', amount) }))
      .where('id', '=', walletId)
      .execute();
  }
}
