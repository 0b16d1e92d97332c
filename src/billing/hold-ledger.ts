/**
 * Holds: the worst case of each running request, taken from a wallet before the upstream
 * is called (docs/billing.md, "Holds").
 *
 * A hold is one conditional UPDATE (`held = held + X where amount - held >= X`): the
 * database checks and reserves in one step, so neither concurrent requests in one process
 * nor several replicas on one PostgreSQL can reserve the same money twice; the row count
 * says whether it worked. The hold's own row (keyed by trace id, owned by this process
 * instance) is written in the same transaction, so a crash leaves a record of what to give
 * back: at start-up, and on PostgreSQL whenever another instance's lease runs out, holds
 * whose owner is gone are released.
 */
import { randomBytes } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../store/database.js';
import type { StoreDialect } from '../store/migrate-to-latest.js';

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
  readonly instanceId = `inst_${randomBytes(12).toString('hex')}`;
  readonly #leaseMs: number;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: StoreDialect,
    options: HoldLedgerOptions = {},
  ) {
    this.#leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Registers this instance and releases the holds of instances that are gone. On SQLite
   * the file belongs to one server process (DESIGN.md: several processes means PostgreSQL),
   * so every hold not ours is a crashed predecessor's. Then heartbeats and sweeps.
   */
  async start(): Promise<number> {
    await this.db.insertInto('instances').values({ id: this.instanceId, heartbeat_at: this.#now() }).execute();
    const released = await this.releaseOrphans(this.dialect === 'sqlite');
    this.#timer = setInterval(() => {
      void this.#beat().catch(() => undefined);
    }, Math.max(1_000, Math.floor(this.#leaseMs / 3)));
    this.#timer.unref();
    return released;
  }

  async #beat(): Promise<void> {
    await this.db.updateTable('instances').set({ heartbeat_at: this.#now() }).where('id', '=', this.instanceId).execute();
    await this.releaseOrphans(false);
  }

  /**
   * Takes `amount` from the application's quota, else (where the application allows it)
   * from the person's global balance. Returns the wallet held on, or null: not enough.
   */
  async hold(traceId: string, target: HoldTarget, amount: number): Promise<string | null> {
    const attempts: Array<(trx: Transaction<Database>) => Promise<string | null>> = [];
    if (target.applicationId !== null) {
      const applicationId = target.applicationId;
      attempts.push((trx) => this.#take(trx, applicationId, amount, null));
      attempts.push((trx) => this.#take(trx, target.personId, amount, applicationId));
    } else {
      attempts.push((trx) => this.#take(trx, target.personId, amount, null));
    }
    return this.db.transaction().execute(async (trx) => {
      for (const attempt of attempts) {
        const walletId = await attempt(trx);
        if (walletId === null) continue;
        await trx
          .insertInto('holds')
          .values({ trace_id: traceId, wallet_id: walletId, amount, instance_id: this.instanceId, created_at: this.#now() })
          .execute();
        return walletId;
      }
      return null;
    });
  }

  /** The conditional reservation; `via` names a quota wallet that must allow the fallback. */
  async #take(trx: Transaction<Database>, walletId: string, amount: number, via: string | null): Promise<string | null> {
    let update = trx
      .updateTable('wallets')
      .set((eb) => ({ held: eb('held', '+', amount) }))
      .where('id', '=', walletId)
      .where(sql<boolean>`amount - held >= ${amount}`);
    if (via !== null) {
      update = update.where(({ exists, selectFrom }) =>
        exists(selectFrom('wallets as q').select('q.id').where('q.id', '=', via).where('q.fallback', '=', 'balance')),
      );
    }
    const result = await update.executeTakeFirst();
    return result.numUpdatedRows > 0n ? walletId : null;
  }

  /**
   * Gives back the holds whose owner is gone: every other instance's when `allOthers`
   * (SQLite start-up), else those of instances whose lease ran out. Delete-returning makes
   * each hold released once, even with several replicas sweeping at the same time.
   */
  async releaseOrphans(allOthers: boolean): Promise<number> {
    const expired = this.#now() - this.#leaseMs;
    return this.db.transaction().execute(async (trx) => {
      let deletion = trx.deleteFrom('holds').where('instance_id', '!=', this.instanceId);
      if (!allOthers) {
        deletion = deletion.where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('instances as i')
                .select('i.id')
                .whereRef('i.id', '=', 'holds.instance_id')
                .where('i.heartbeat_at', '>=', expired),
            ),
          ),
        );
      }
      const released = await deletion.returning(['wallet_id', 'amount']).execute();
      await giveBack(trx, released);
      let instances = trx.deleteFrom('instances').where('id', '!=', this.instanceId);
      if (!allOthers) instances = instances.where('heartbeat_at', '<', expired);
      await instances.execute();
      return released.length;
    });
  }

  /** Stops heartbeating and leaves: holds still open now belong to nobody, so give them back. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.db.transaction().execute(async (trx) => {
      const released = await trx.deleteFrom('holds').where('instance_id', '=', this.instanceId).returning(['wallet_id', 'amount']).execute();
      await giveBack(trx, released);
      await trx.deleteFrom('instances').where('id', '=', this.instanceId).execute();
    });
  }
}

/** Lowers each wallet's held total by the holds just deleted. */
export async function giveBack(trx: Transaction<Database>, holds: ReadonlyArray<{ wallet_id: string; amount: number }>): Promise<void> {
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
