import type { Kysely } from 'kysely';
import { MoongateError } from '../contract/errors.js';
import type { Database, PersonRole, PersonRow, PersonStatus } from '../store/database.js';
import { newId } from '../store/new-id.js';

export interface Person {
  id: string;
  email: string;
  role: PersonRole;
  status: PersonStatus;
  createdAt: number;
}

/** RFC 5321 caps a path at 256 octets, so an address at 254 characters. */
const MAX_EMAIL_LENGTH = 254;
/** Deliberately loose: the shape only catches typos; only a sent email proves an address. */
const EMAIL_SHAPE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * The one spelling of an email address that is stored and compared. The local part is
 * case-sensitive in theory (RFC 5321) but no mail provider treats it so, and people
 * type their address in whatever case; lowercasing keeps one account per mailbox.
 */
export function normalizeEmail(email: string): string {
  const normalized = email.trim().toLowerCase();
  if (normalized.length > MAX_EMAIL_LENGTH || !EMAIL_SHAPE.test(normalized)) {
    throw new MoongateError('bad_request', 'email must be an email address such as ada@example.com');
  }
  return normalized;
}

/** People: who holds applications and credentials. */
export class PersonStore {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Returns the person with this email, creating them first if there is none. */
  async ensurePerson(email: string, now: number = Date.now()): Promise<Person> {
    const normalized = normalizeEmail(email);
    // Insert-or-nothing, then read: two concurrent calls both end up with the one row.
    await this.#db
      .insertInto('people')
      .values({ id: newId('per'), email: normalized, role: 'user', status: 'active', created_at: now })
      .onConflict((conflict) => conflict.column('email').doNothing())
      .execute();
    const row = await this.#db.selectFrom('people').selectAll().where('email', '=', normalized).executeTakeFirstOrThrow();
    return toPerson(row);
  }

  async findPersonByEmail(email: string): Promise<Person | undefined> {
    const row = await this.#db
      .selectFrom('people')
      .selectAll()
      .where('email', '=', normalizeEmail(email))
      .executeTakeFirst();
    return row === undefined ? undefined : toPerson(row);
  }

  async getPerson(id: string): Promise<Person> {
    const row = await this.#db.selectFrom('people').selectAll().where('id', '=', id).executeTakeFirst();
    if (row === undefined) throw new MoongateError('bad_request', `person ${id} does not exist`);
    return toPerson(row);
  }

  /** The stored password hash (null: the person cannot log in yet); never leaves src/accounts. */
  async getPasswordHash(id: string): Promise<string | null> {
    const row = await this.#db.selectFrom('people').select('password_hash').where('id', '=', id).executeTakeFirst();
    if (row === undefined) throw new MoongateError('bad_request', `person ${id} does not exist`);
    return row.password_hash;
  }

  async setPasswordHash(id: string, passwordHash: string): Promise<void> {
    await this.#db.updateTable('people').set({ password_hash: passwordHash }).where('id', '=', id).execute();
  }

  async setPersonRole(id: string, role: PersonRole): Promise<Person> {
    await this.#db.updateTable('people').set({ role }).where('id', '=', id).execute();
    return this.getPerson(id);
  }

  /** The operator's per-person limits; a field left out stays, null restores the default. */
  async setPersonLimits(id: string, limits: { credentials?: number | null; rps?: number | null; concurrency?: number | null }): Promise<void> {
    const set: { credentials_limit?: number | null; rps_limit?: number | null; concurrency_limit?: number | null } = {};
    if (limits.credentials !== undefined) set.credentials_limit = limits.credentials;
    if (limits.rps !== undefined) set.rps_limit = limits.rps;
    if (limits.concurrency !== undefined) set.concurrency_limit = limits.concurrency;
    if (Object.keys(set).length > 0) await this.#db.updateTable('people').set(set).where('id', '=', id).execute();
  }

  /** The operator's per-person limits (null: the default). */
  async getPersonLimits(id: string): Promise<{ credentials: number | null; rps: number | null; concurrency: number | null }> {
    const row = await this.#db.selectFrom('people').select(['credentials_limit', 'rps_limit', 'concurrency_limit']).where('id', '=', id).executeTakeFirst();
    if (row === undefined) throw new MoongateError('bad_request', `person ${id} does not exist`);
    return { credentials: row.credentials_limit, rps: row.rps_limit, concurrency: row.concurrency_limit };
  }

  async setPersonStatus(id: string, status: PersonStatus): Promise<Person> {
    await this.#db.updateTable('people').set({ status }).where('id', '=', id).execute();
    return this.getPerson(id);
  }
}

function toPerson(row: PersonRow): Person {
  return { id: row.id, email: row.email, role: row.role, status: row.status, createdAt: row.created_at };
}
