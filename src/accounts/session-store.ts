/**
 * Console sessions. The session id (256 random bits, base64url) exists only in the
 * person's cookie; the row keeps its SHA-256, like credential tokens (credential-token.ts
 * explains why a fast hash is enough for a long random secret). Each session carries its
 * own CSRF token, which the console sends back in `x-csrf-token`.
 *
 * Expiry slides: every use pushes `expires_at` to now + TTL, so an active person stays
 * logged in and an idle one is logged out TTL after their last request. To keep a read
 * from becoming a write on every console call, the row is only touched when it was last
 * seen more than a minute ago.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database, PersonRole } from '../store/database.js';
import { newId } from '../store/new-id.js';

export const DEFAULT_SESSION_TTL_MS = 30 * 86_400_000;
const TOUCH_INTERVAL_MS = 60_000;
/** How often creating a session also deletes expired ones, so the table does not grow without bound. */
const SWEEP_INTERVAL_MS = 3_600_000;
const MAX_USER_AGENT_LENGTH = 256;
/** What a session id looks like: 32 random bytes in base64url. Anything else is refused without a query. */
const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export interface Session {
  id: string;
  personId: string;
  csrfToken: string;
  createdAt: number;
  expiresAt: number;
  lastSeenAt: number;
}

export interface SessionPerson {
  id: string;
  email: string;
  role: PersonRole;
}

export interface FoundSession {
  session: Session;
  person: SessionPerson;
  /** The expiry slid forward on this lookup: the cookie's Max-Age should follow. */
  refreshed: boolean;
}

export interface OpenedSession {
  /** The cookie value: handed to the browser once, never stored. */
  sessionId: string;
  session: Session;
}

export class SessionStore {
  readonly #db: Kysely<Database>;
  readonly #ttlMs: number;
  #lastSweep = 0;

  constructor(db: Kysely<Database>, ttlMs: number = DEFAULT_SESSION_TTL_MS) {
    this.#db = db;
    this.#ttlMs = ttlMs;
  }

  get ttlMs(): number {
    return this.#ttlMs;
  }

  async createSession(personId: string, userAgent?: string, now: number = Date.now()): Promise<OpenedSession> {
    const sessionId = randomBytes(32).toString('base64url');
    const session: Session = {
      id: newId('ses'),
      personId,
      csrfToken: randomBytes(32).toString('base64url'),
      createdAt: now,
      expiresAt: now + this.#ttlMs,
      lastSeenAt: now,
    };
    await this.#db
      .insertInto('sessions')
      .values({
        id: session.id,
        token_hash: hashSessionId(sessionId),
        person_id: personId,
        csrf_token: session.csrfToken,
        created_at: now,
        expires_at: session.expiresAt,
        last_seen_at: now,
        user_agent: userAgent === undefined ? null : userAgent.slice(0, MAX_USER_AGENT_LENGTH),
      })
      .execute();
    if (now - this.#lastSweep >= SWEEP_INTERVAL_MS) {
      this.#lastSweep = now;
      await this.deleteExpiredSessions(now);
    }
    return { sessionId, session };
  }

  /**
   * The live session a cookie names, with its person, sliding its expiry forward; undefined
   * when the id is unknown, expired or revoked, or its person is disabled.
   */
  async findSession(sessionId: string, now: number = Date.now()): Promise<FoundSession | undefined> {
    if (!SESSION_ID_PATTERN.test(sessionId)) return undefined;
    const row = await this.#db
      .selectFrom('sessions as s')
      .innerJoin('people as p', 'p.id', 's.person_id')
      .select([
        's.id',
        's.person_id',
        's.csrf_token',
        's.created_at',
        's.expires_at',
        's.last_seen_at',
        'p.email',
        'p.role',
        'p.status as person_status',
      ])
      .where('s.token_hash', '=', hashSessionId(sessionId))
      .executeTakeFirst();
    if (row === undefined || row.expires_at <= now || row.person_status !== 'active') return undefined;
    let { expires_at: expiresAt, last_seen_at: lastSeenAt } = row;
    const refreshed = now - lastSeenAt >= TOUCH_INTERVAL_MS;
    if (refreshed) {
      expiresAt = now + this.#ttlMs;
      lastSeenAt = now;
      await this.#db.updateTable('sessions').set({ expires_at: expiresAt, last_seen_at: lastSeenAt }).where('id', '=', row.id).execute();
    }
    return {
      session: {
        id: row.id,
        personId: row.person_id,
        csrfToken: row.csrf_token,
        createdAt: row.created_at,
        expiresAt,
        lastSeenAt,
      },
      person: { id: row.person_id, email: row.email, role: row.role },
      refreshed,
    };
  }

  /** Logout: the row goes, so the cookie is worthless even if it was copied. */
  async revokeSession(id: string): Promise<void> {
    await this.#db.deleteFrom('sessions').where('id', '=', id).execute();
  }

  /** A password change logs the person out everywhere except, optionally, where they changed it. */
  async revokePersonSessions(personId: string, exceptId?: string): Promise<number> {
    let query = this.#db.deleteFrom('sessions').where('person_id', '=', personId);
    if (exceptId !== undefined) query = query.where('id', '!=', exceptId);
    const result = await query.executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /** Expired rows are dead weight; deleting them is housekeeping, not security (findSession checks expiry). */
  async deleteExpiredSessions(now: number = Date.now()): Promise<number> {
    const result = await this.#db.deleteFrom('sessions').where('expires_at', '<=', now).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

export function hashSessionId(sessionId: string): string {
  return createHash('sha256').update(sessionId, 'utf8').digest('hex');
}

/** Compares a presented CSRF token with the session's without leaking where they differ. */
export function csrfTokenMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}
