/**
 * Holds: the worst case of each running request, taken from a wallet before the upstream
 * is called (docs/billing.md, "Hold"). Concurrent requests can never reserve the same money
 * twice; how that is made sure, and how a crash is undone, differ by dialect:
 * - PostgreSQL (several replicas): a hold is ONE statement, a conditional update
 *   (`held = held + X where amount - held >= X`) checked by its row count, so the database
 *   checks and reserves in one step. The same statement also records the hold (trace id,
 *   wallet, amount, owning instance) through a data-modifying CTE. Instances heartbeat;
 *   the holds of an instance whose lease ran out are released by whichever instance
 *   sweeps first (delete-returning: exactly once). A heartbeat sweeps only once its own
 *   instance has beaten without a break for a whole lease: after an outage of PostgreSQL
 *   every heartbeat is stale, and only a replica that was itself up while another missed
 *   its beats may take that other for dead. A heartbeat that finds its own row gone (swept)
 *   registers again and reports it.
 * - SQLite (one server process per file, DESIGN.md): this process is the only one that
 *   holds, so holds live in its memory (memory-holds.ts), checked against the wallet's amount
 *   read synchronously; nothing is written to take one. The `held` column is only a mirror
 *   for the CLI and the console, written with settlements; a starting process resets it to
 *   zero: whatever a crashed predecessor held is released, whatever it had settled is kept.
 */
import { randomBytes } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../store/database.js';
import type { Store } from '../store/open-store.js';
import { PreparedQuery } from '../store/prepared-query.js';
import { MemoryHolds } from './memory-holds.js';

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
  /** Told when something went wrong with this instance's lease (an error: money may be at stake). */
  onTrouble?: (trouble: HoldLedgerTrouble) => void;
}

/**
 * PostgreSQL, for the log. `swept`: a heartbeat found this instance's row gone: another
 * replica took it for dead (its heartbeat older than the lease) and gave back the holds it
 * had then, while their requests may still run (their settlements then charge money that
 * is no longer held). The instance has registered again; its later holds are safe.
 */
export interface HoldLedgerTrouble {
  kind: 'swept';
  instanceId: string;
  /** This instance's clock at its last heartbeat that had found its row, if any. */
  lastBeatAt: number | null;
  error: Error;
}

const DEFAULT_LEASE_MS = 60_000;

export class HoldLedger {
  /** `inst_<pid>_<random>`: on SQLite the pid tells whether the owner still runs. */
  readonly instanceId = `inst_${process.pid}_${randomBytes(12).toString('hex')}`;
  /** Whether holds have rows (and settlement must remove them): PostgreSQL. */
  readonly recordsHolds: boolean;
  /** SQLite: the holds, in this process's memory; settlement releases them once committed. */
  readonly memory: MemoryHolds | null;
  readonly #db: Kysely<Database>;
  readonly #leaseMs: number;
  readonly #beatMs: number;
  readonly #now: () => number;
  readonly #onTrouble: (trouble: HoldLedgerTrouble) => void;
  #timer: NodeJS.Timeout | undefined;
  /** The heartbeat running now (one at a time); close() waits for it. */
  #beating: Promise<number> | undefined;
  #closed = false;
  /** This instance's last heartbeat that landed (its clock). */
  #landedAt: number | undefined;
  /**
   * When this instance's current unbroken run of heartbeats began (its clock); undefined
   * after a failed beat. A gap of more than two beats between beats that landed ends it too.
   */
  #runSince: number | undefined;
  /** PostgreSQL: the reservation, and the one on the balance a quota falls back to. */
  readonly #reserve: { plain: PreparedQuery<unknown, keyof Take>; via: PreparedQuery<unknown, keyof Take> } | null;

  constructor(store: Pick<Store, 'db' | 'sqlite'>, options: HoldLedgerOptions = {}) {
    this.#db = store.db;
    this.#leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.#beatMs = Math.max(1_000, Math.floor(this.#leaseMs / 3));
    this.#now = options.now ?? Date.now;
    this.#onTrouble = options.onTrouble ?? (() => undefined);
    this.memory = store.sqlite === null ? null : new MemoryHolds(store.sqlite);
    this.recordsHolds = this.memory === null;
    this.#reserve = this.memory === null ? { plain: this.#prepareReserve(false), via: this.#prepareReserve(true) } : null;
  }

  /**
   * Releases what crashed processes held, then (PostgreSQL) registers this instance and
   * heartbeats. Returns how many holds (PostgreSQL) or wallets (SQLite) were released.
   *
   * The sweep here is not held back like the heartbeat's (beat()): a restarted replica gives
   * its dead predecessor's holds back at once, which a deployment of one replica relies on
   * (nobody else would before this one had run for a lease). Its cost: a replica started just
   * as PostgreSQL comes back from an outage longer than the lease may sweep live replicas
   * that have not beaten again yet; each finds out at its next beat (`swept`).
   */
  async start(): Promise<number> {
    if (this.memory !== null) {
      await this.#claimSqlite();
      return this.#resetSqlite();
    }
    const at = this.#now();
    await this.#db.insertInto('instances').values({ id: this.instanceId, heartbeat_at: at }).execute();
    this.#runSince = this.#landedAt = at;
    const released = await this.releaseOrphans();
    this.#timer = setInterval(() => {
      void this.beat().catch(() => undefined);
    }, this.#beatMs);
    this.#timer.unref();
    return released;
  }

  /**
   * PostgreSQL: one heartbeat (start() runs one every third of the lease; tests call it).
   * Writes this instance's heartbeat, registering it again if its row is gone, then, once
   * this instance has beaten without a break for a whole lease, gives back the holds of
   * instances that missed every beat of that lease. Returns how many holds it gave back.
   * A beat still running is shared, not doubled.
   */
  beat(): Promise<number> {
    // SQLite has no heartbeat; PostgreSQL's starts with start() and ends with close().
    if (this.memory !== null || this.#timer === undefined || this.#closed) return Promise.resolve(0);
    this.#beating ??= this.#beatOnce().finally(() => {
      this.#beating = undefined;
    });
    return this.#beating;
  }

  async #beatOnce(): Promise<number> {
    const at = this.#now();
    let found: boolean;
    try {
      found = await this.#register(at);
    } catch (error) {
      this.#runSince = undefined;
      throw error;
    }
    const lastBeat = this.#landedAt;
    // A run goes on only from a beat that landed at most two beats before; being found swept
    // ends it too (someone took this instance for dead: take nobody for dead before a lease).
    const since = found && this.#runSince !== undefined && lastBeat !== undefined && at - lastBeat <= 2 * this.#beatMs ? this.#runSince : at;
    this.#runSince = since;
    this.#landedAt = at;
    if (!found) {
      const error = new Error(
        `moongate instance ${this.instanceId} found its registration gone: another replica took it for dead (no heartbeat for ${this.#leaseMs} ms) and gave back the holds it had then, while their requests may still run; registered again`,
      );
      this.#onTrouble({ kind: 'swept', instanceId: this.instanceId, lastBeatAt: lastBeat ?? null, error });
    }
    // After an outage of PostgreSQL every heartbeat is stale: only what missed beats while this
    // instance was itself beating, a whole lease up to this beat, is taken for dead.
    if (at - since < this.#leaseMs) return 0;
    try {
      return await this.#sweep(at - this.#leaseMs, at - this.#leaseMs);
    } catch (error) {
      this.#runSince = undefined;
      throw error;
    }
  }

  /** Writes this instance's heartbeat; false when its row was gone (swept) and is now written again. */
  async #register(at: number): Promise<boolean> {
    const updated = await this.#db.updateTable('instances').set({ heartbeat_at: at }).where('id', '=', this.instanceId).executeTakeFirst();
    if (updated.numUpdatedRows > 0n) return true;
    await this.#db
      .insertInto('instances')
      .values({ id: this.instanceId, heartbeat_at: at })
      .onConflict((oc) => oc.column('id').doUpdateSet({ heartbeat_at: at }))
      .execute();
    return false;
  }

  /**
   * SQLite: refuses to start beside another live server on the same file (its holds would
   * be reset under it); the instances of dead processes are forgotten.
   */
  async #claimSqlite(): Promise<void> {
    const others = await this.#db.selectFrom('instances').select('id').execute();
    for (const { id } of others) {
      const pid = Number(/^inst_(\d+)_/.exec(id)?.[1]);
      if (Number.isSafeInteger(pid) && pid !== process.pid && processIsAlive(pid)) {
        throw new Error(
          `another moongate server (pid ${pid}) is using this SQLite database; stop it first, or use PostgreSQL (DATABASE_URL) for several servers`,
        );
      }
    }
    await this.#db.deleteFrom('instances').where('id', 'not like', `inst_${process.pid}_%`).execute();
    await this.#db.insertInto('instances').values({ id: this.instanceId, heartbeat_at: this.#now() }).execute();
  }

  /** SQLite: no other process holds anything on this file. */
  async #resetSqlite(): Promise<number> {
    const reset = await this.#db.updateTable('wallets').set({ held: 0 }).where('held', '!=', 0).executeTakeFirst();
    return Number(reset.numUpdatedRows);
  }

  /**
   * Takes `amount` from the application's quota, else (where the application allows it)
   * from the person's global balance. Returns the wallet held on, or null: not enough.
   */
  async hold(traceId: string, target: HoldTarget, amount: number): Promise<string | null> {
    const reserve = this.#reserve;
    if (reserve === null) return this.memory?.hold(target, amount) ?? null;
    const take = (walletId: string, via: string | null) => this.#take(via === null ? reserve.plain : reserve.via, { traceId, walletId, amount, via });
    if (target.applicationId !== null) {
      if (await take(target.applicationId, null)) return target.applicationId;
      return (await take(target.personId, target.applicationId)) ? target.personId : null;
    }
    return (await take(target.personId, null)) ? target.personId : null;
  }

  /** PostgreSQL: the conditional reservation; `via` names a quota wallet that must allow the fallback. */
  async #take(reserve: PreparedQuery<unknown, keyof Take>, take: Pick<Take, 'traceId' | 'walletId' | 'amount' | 'via'>): Promise<boolean> {
    const result = await reserve.execute(this.#db, { ...take, instanceId: this.instanceId, now: this.#now() });
    return (result.numAffectedRows ?? 0n) > 0n;
  }

  /**
   * PostgreSQL: the reservation as one statement, compiled once (prepared-query.ts). It also
   * records the hold in the same round trip: the two commit together or not at all.
   */
  #prepareReserve(withFallback: boolean): PreparedQuery<unknown, keyof Take> {
    return new PreparedQuery((slot) => {
      const amount = slot<number>('amount');
      const fallback = withFallback
        ? sql`and exists (select 1 from wallets q where q.id = ${slot('via')} and q.fallback = 'balance')`
        : sql``;
      const reserve = sql`update wallets set held = held + ${amount} where id = ${slot('walletId')} and amount - held >= ${amount} ${fallback}`;
      const query = sql`
      with taken as (${reserve} returning id)
      insert into holds (trace_id, wallet_id, amount, instance_id, created_at)
      select ${slot('traceId')}, id, ${amount}::bigint, ${slot('instanceId')}, ${slot<number>('now')}::bigint from taken`;
      return query.compile(this.#db);
    });
  }

  /**
   * PostgreSQL: gives back the holds of instances whose lease ran out, at once (start() runs
   * it; the heartbeat's sweep waits for a lease of its own beats, beat()). Delete-returning
   * makes each hold released once, even with several replicas sweeping at the same time.
   */
  async releaseOrphans(): Promise<number> {
    if (!this.recordsHolds) return 0;
    return this.#sweep(this.#now() - this.#leaseMs, null);
  }

  /**
   * Deletes the instances whose heartbeat is before `expired` and gives back the holds of
   * instances with no heartbeat since (or no row). `takenBefore`: only holds taken before
   * then; the heartbeat passes `expired`, so a hold younger than the lease is never taken
   * from a live instance that was swept (by a start-up) and has not registered again yet.
   */
  async #sweep(expired: number, takenBefore: number | null): Promise<number> {
    return this.#db.transaction().execute(async (trx) => {
      let orphans = trx
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
        );
      if (takenBefore !== null) orphans = orphans.where('created_at', '<', takenBefore);
      const released = await orphans.returning(['wallet_id', 'amount']).execute();
      await giveBack(trx, released);
      await trx.deleteFrom('instances').where('id', '!=', this.instanceId).where('heartbeat_at', '<', expired).execute();
      return released.length;
    });
  }

  /** Stops heartbeating and leaves: holds still open now belong to nobody, so give them back. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    // A beat still running must not register this instance again after it left.
    this.#closed = true;
    await this.#beating?.catch(() => undefined);
    if (this.memory !== null) {
      this.memory.clear();
      await this.#resetSqlite();
      await this.#db.deleteFrom('instances').where('id', '=', this.instanceId).execute();
      return;
    }
    await this.#db.transaction().execute(async (trx) => {
      const released = await trx.deleteFrom('holds').where('instance_id', '=', this.instanceId).returning(['wallet_id', 'amount']).execute();
      await giveBack(trx, released);
      await trx.deleteFrom('instances').where('id', '=', this.instanceId).execute();
    });
  }
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
