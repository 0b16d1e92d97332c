import type { Kysely } from 'kysely';
import { decodeCursor, encodeCursor } from '../store/cursor.js';
import { MoongateError } from '../contract/errors.js';
import type { CredentialStatus, Database } from '../store/database.js';
import { newId } from '../store/new-id.js';
import { ApplicationStore, type ApplicationStoreOptions } from './application-store.js';
import { newCredentialToken } from './credential-token.js';
import { PersonStore } from './person-store.js';

/** A credential as listed: everything but its token, which is never stored, and its hash. */
export interface Credential {
  id: string;
  personId: string;
  /** Null for a global credential. */
  serviceId: string | null;
  serviceSlug: string | null;
  applicationId: string | null;
  global: boolean;
  name: string;
  tokenPrefix: string;
  status: CredentialStatus;
  expiresAt: number | null;
  createdAt: number;
  revokedAt: number | null;
  /** Operator overrides of the default limits (docs/billing.md); null means the default. */
  rpsLimit: number | null;
  concurrencyLimit: number | null;
}

/** Per-credential limit overrides; null restores the default. */
export interface CredentialLimits {
  rpsLimit?: number | null | undefined;
  concurrencyLimit?: number | null | undefined;
}

/**
 * A service credential is bound to the person's application for that service (created
 * if missing); a global credential works on every service (SPEC.md, "Credentials and quota").
 */
export type IssueCredentialOptions = {
  personId: string;
  /**
   * Refuse (400) when the person already holds this many credentials that are neither
   * revoked nor expired; the person's own limit (set by the operator) wins over
   * `defaultLimit`. Left out, nothing is counted (the operator's `--over-limit`).
   */
  credentialsLimit?: { defaultLimit: number } | undefined;
  name?: string | undefined;
  /** Milliseconds since the epoch; omitted or null for a credential that never expires. */
  expiresAt?: number | null | undefined;
} & CredentialLimits & ({ serviceSlug: string; global?: false | undefined } | { global: true; serviceSlug?: undefined });

export interface IssuedCredential {
  /** The only time the token exists outside its holder's hands: show it once, then drop it. */
  token: string;
  credential: Credential;
}

const DEFAULT_NAME = 'default';
const MAX_NAME_LENGTH = 100;

export class CredentialStore {
  readonly #db: Kysely<Database>;
  readonly #applications: ApplicationStoreOptions;

  constructor(db: Kysely<Database>, applications: ApplicationStoreOptions = {}) {
    this.#db = db;
    this.#applications = applications;
  }

  async issueCredential(options: IssueCredentialOptions, now: number = Date.now()): Promise<IssuedCredential> {
    const name = (options.name ?? DEFAULT_NAME).trim();
    if (name.length === 0 || name.length > MAX_NAME_LENGTH) {
      throw new MoongateError('bad_request', `name must be 1 to ${MAX_NAME_LENGTH} characters`);
    }
    const expiresAt = options.expiresAt ?? null;
    if (expiresAt !== null && (!Number.isSafeInteger(expiresAt) || expiresAt <= now)) {
      throw new MoongateError('bad_request', 'expiresAt must be a time in the future, in milliseconds since the epoch');
    }
    checkLimits(options);
    let scope: { service_id: string | null; application_id: string | null };
    if (options.global === true) {
      await new PersonStore(this.#db).getPerson(options.personId);
      scope = { service_id: null, application_id: null };
    } else {
      const application = await new ApplicationStore(this.#db, this.#applications).ensureApplication(options.personId, options.serviceSlug, now);
      scope = { service_id: application.serviceId, application_id: application.id };
    }
    const { token, hash, prefix } = newCredentialToken();
    const id = newId('cred');
    const row = {
      id,
      person_id: options.personId,
      ...scope,
      name,
      token_hash: hash,
      token_prefix: prefix,
      status: 'active' as const,
      expires_at: expiresAt,
      created_at: now,
      revoked_at: null,
      rps_limit: options.rpsLimit ?? null,
      concurrency_limit: options.concurrencyLimit ?? null,
    };
    const limit = options.credentialsLimit;
    if (limit === undefined) {
      await this.#db.insertInto('credentials').values(row).execute();
    } else {
      await this.#db.transaction().execute(async (trx) => {
        // A no-op update of the person's row: on PostgreSQL it locks the row until commit, so
        // two issues for one person count one after the other (SQLite has one writer anyway).
        const person = await trx
          .updateTable('people')
          .set((eb) => ({ credentials_limit: eb.ref('credentials_limit') }))
          .where('id', '=', options.personId)
          .returning('credentials_limit')
          .executeTakeFirstOrThrow();
        const max = person.credentials_limit ?? limit.defaultLimit;
        const held = await trx
          .selectFrom('credentials')
          .select((eb) => eb.fn.countAll<number | string>().as('n'))
          .where('person_id', '=', options.personId)
          .where('status', '!=', 'revoked')
          .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
          .executeTakeFirstOrThrow();
        if (Number(held.n) >= max) {
          throw new MoongateError('bad_request', `at most ${max} credentials may be active; revoke one first (or ask the operator for more)`);
        }
        await trx.insertInto('credentials').values(row).execute();
      });
    }
    return { token, credential: await this.getCredential(id) };
  }

  /** The person's credentials, revoked ones included, oldest first. */
  async listCredentials(personId: string): Promise<Credential[]> {
    const rows = await this.#selectCredentials()
      .where('c.person_id', '=', personId)
      .orderBy('c.created_at')
      .orderBy('c.id')
      .execute();
    return rows.map(toCredential);
  }

  /**
   * Everyone's credentials with their owner's email, newest first, a page at a time (the
   * operator's console); only one person's with `personId`. Never a token or its hash.
   */
  async listAllCredentials(
    page: { personId?: string | undefined; limit: number; before?: string | undefined },
  ): Promise<{ credentials: Array<Credential & { ownerEmail: string }>; next: string | null }> {
    let query = this.#selectCredentials().innerJoin('people as p', 'p.id', 'c.person_id').select('p.email as owner_email');
    if (page.personId !== undefined) query = query.where('c.person_id', '=', page.personId);
    if (page.before !== undefined) {
      const cursor = decodeCursor(page.before);
      query = query.where((eb) =>
        eb.or([eb('c.created_at', '<', cursor.createdAt), eb.and([eb('c.created_at', '=', cursor.createdAt), eb('c.id', '<', cursor.key)])]),
      );
    }
    const found = await query.orderBy('c.created_at', 'desc').orderBy('c.id', 'desc').limit(page.limit + 1).execute();
    const credentials = found.slice(0, page.limit).map((row) => ({ ...toCredential(row), ownerEmail: row.owner_email }));
    const last = credentials.at(-1);
    return { credentials, next: found.length > page.limit && last !== undefined ? encodeCursor(last.createdAt, last.id) : null };
  }

  /** The credential, or undefined when there is none with this id. */
  async findCredential(id: string): Promise<Credential | undefined> {
    const row = await this.#selectCredentials().where('c.id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : toCredential(row);
  }

  async getCredential(id: string): Promise<Credential> {
    const row = await this.#selectCredentials().where('c.id', '=', id).executeTakeFirst();
    if (row === undefined) throw new MoongateError('bad_request', `credential ${id} does not exist`);
    return toCredential(row);
  }

  /** Revocation is final, and revoking twice keeps the first revocation time. */
  async revokeCredential(id: string, now: number = Date.now()): Promise<Credential> {
    await this.#db
      .updateTable('credentials')
      .set({ status: 'revoked', revoked_at: now })
      .where('id', '=', id)
      .where('status', '!=', 'revoked')
      .execute();
    return this.getCredential(id);
  }

  /**
   * Revokes a credential only if it belongs to the person; undefined otherwise, the same
   * for someone else's id as for an unknown one, so a caller cannot learn which ids exist.
   */
  async revokeOwnCredential(personId: string, id: string, now: number = Date.now()): Promise<Credential | undefined> {
    await this.#db
      .updateTable('credentials')
      .set({ status: 'revoked', revoked_at: now })
      .where('id', '=', id)
      .where('person_id', '=', personId)
      .where('status', '!=', 'revoked')
      .execute();
    const row = await this.#selectCredentials().where('c.id', '=', id).where('c.person_id', '=', personId).executeTakeFirst();
    return row === undefined ? undefined : toCredential(row);
  }

  /** Disables or re-enables a credential; a revoked one stays revoked. */
  async setCredentialStatus(id: string, status: Exclude<CredentialStatus, 'revoked'>): Promise<Credential> {
    const result = await this.#db
      .updateTable('credentials')
      .set({ status })
      .where('id', '=', id)
      .where('status', '!=', 'revoked')
      .executeTakeFirst();
    const credential = await this.getCredential(id);
    if (result.numUpdatedRows === 0n && credential.status === 'revoked') {
      throw new MoongateError('bad_request', `credential ${id} is revoked and cannot be changed`);
    }
    return credential;
  }

  /** Sets (or, with null, resets to the default) a credential's limits; they apply to its next request. */
  async setCredentialLimits(id: string, limits: CredentialLimits): Promise<Credential> {
    checkLimits(limits);
    const changes = {
      ...(limits.rpsLimit === undefined ? {} : { rps_limit: limits.rpsLimit }),
      ...(limits.concurrencyLimit === undefined ? {} : { concurrency_limit: limits.concurrencyLimit }),
    };
    if (Object.keys(changes).length > 0) await this.#db.updateTable('credentials').set(changes).where('id', '=', id).execute();
    return this.getCredential(id);
  }

  #selectCredentials() {
    return this.#db
      .selectFrom('credentials as c')
      .leftJoin('services as s', 's.id', 'c.service_id')
      .select([
        'c.id',
        'c.person_id',
        'c.service_id',
        's.slug as service_slug',
        'c.application_id',
        'c.name',
        'c.token_prefix',
        'c.status',
        'c.expires_at',
        'c.created_at',
        'c.revoked_at',
        'c.rps_limit',
        'c.concurrency_limit',
      ]);
  }
}

interface CredentialListingRow {
  id: string;
  person_id: string;
  service_id: string | null;
  service_slug: string | null;
  application_id: string | null;
  name: string;
  token_prefix: string;
  status: CredentialStatus;
  expires_at: number | null;
  created_at: number;
  revoked_at: number | null;
  rps_limit: number | null;
  concurrency_limit: number | null;
}

/** Most requests per second or concurrent requests an operator may allow one credential. */
const MAX_LIMIT = 1_000_000;

function checkLimits(limits: CredentialLimits): void {
  for (const [name, value] of [['rps', limits.rpsLimit], ['concurrency', limits.concurrencyLimit]] as const) {
    if (value !== undefined && value !== null && (!Number.isSafeInteger(value) || value < 1 || value > MAX_LIMIT)) {
      throw new MoongateError('bad_request', `the ${name} limit must be a whole number from 1 to ${MAX_LIMIT}`);
    }
  }
}

function toCredential(row: CredentialListingRow): Credential {
  return {
    id: row.id,
    personId: row.person_id,
    serviceId: row.service_id,
    serviceSlug: row.service_slug,
    applicationId: row.application_id,
    global: row.service_id === null,
    name: row.name,
    tokenPrefix: row.token_prefix,
    status: row.status,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
    rpsLimit: row.rps_limit,
    concurrencyLimit: row.concurrency_limit,
  };
}
