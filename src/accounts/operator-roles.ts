/**
 * Who is an operator, changed safely. Two rules hold here, each decided and written in one
 * step under one lock (a PostgreSQL advisory lock; SQLite runs one writer at a time):
 *
 * - the last active operator cannot be demoted or disabled, by the console or by another
 *   operator at the same moment (two operators demoting each other at once used to leave
 *   none; issue 15, item 12);
 * - the first operator of a fresh install is made only by someone with access to the server
 *   (the CLI, or the one-time setup link printed at start: setup-link.ts), decided against
 *   "is there an active operator yet?" under the same lock.
 *
 * `moongate admin grant | enable | reset` (cli/admin-commands.ts) turns any lockout around.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import { MoongateError } from '../contract/errors.js';
import type { Database, PersonRole, PersonStatus } from '../store/database.js';
import type { StoreDialect } from '../store/migrate-to-latest.js';

/** Any constant: the PostgreSQL advisory lock every change of who is an active operator takes. */
const OPERATOR_LOCK = 0x6d67_6164;

export const LAST_OPERATOR_MESSAGE = 'this is the last active operator: make another operator first (or use moongate admin on the server)';

/** Runs `work` in a transaction that holds the operator lock. */
export async function withOperatorLock<T>(
  db: Kysely<Database>,
  dialect: StoreDialect,
  work: (trx: Transaction<Database>) => Promise<T>,
): Promise<T> {
  return db.transaction().execute(async (trx) => {
    if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(${OPERATOR_LOCK})`.execute(trx);
    return work(trx);
  });
}

/** Active operators, at most `limit` (a count of "none, one, more" is all callers need). */
export async function activeOperatorIds(db: Kysely<Database> | Transaction<Database>, limit = 2): Promise<string[]> {
  const rows = await db.selectFrom('people').select('id').where('role', '=', 'admin').where('status', '=', 'active').limit(limit).execute();
  return rows.map((row) => row.id);
}

/**
 * Sets a person's role and/or status; refused (400 bad_request, nothing changed) when it
 * would leave no active operator. Returns false when there is no such person.
 */
export async function changePersonStanding(
  db: Kysely<Database>,
  dialect: StoreDialect,
  id: string,
  change: { role?: PersonRole | undefined; status?: PersonStatus | undefined },
): Promise<boolean> {
  return withOperatorLock(db, dialect, async (trx) => {
    const person = await trx.selectFrom('people').select(['role', 'status']).where('id', '=', id).executeTakeFirst();
    if (person === undefined) return false;
    const wasOperator = person.role === 'admin' && person.status === 'active';
    const staysOperator = (change.role ?? person.role) === 'admin' && (change.status ?? person.status) === 'active';
    if (wasOperator && !staysOperator) {
      const others = (await activeOperatorIds(trx)).filter((other) => other !== id);
      if (others.length === 0) throw new MoongateError('bad_request', LAST_OPERATOR_MESSAGE);
    }
    const set: { role?: PersonRole; status?: PersonStatus } = {};
    if (change.role !== undefined) set.role = change.role;
    if (change.status !== undefined) set.status = change.status;
    if (Object.keys(set).length > 0) await trx.updateTable('people').set(set).where('id', '=', id).execute();
    return true;
  });
}
