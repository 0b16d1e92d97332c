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
 *
 * A person holds at most `maxPerPerson` sessions: opening one more ends the one used least
 * recently, so a script logging in in a loop cannot fill the table, and a person can list
 * and end their own sessions (GET and DELETE /api/sessions).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database, PersonRole } from '../store/database.js';
import { newId } from '../store/new-id.js';

export const DEFAULT_SESSION_TTL_MS = 30 * 86_400_000;
/** Sessions one person may hold; a new login past it ends the longest-idle one (SESSIONS_PER_PERSON). */
export const DEFAULT_SESSIONS_PER_PERSON = 10;
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

/** A session as its person sees it in the console: never the id in the cookie, nor the CSRF token. */
export interface ListedSession {
  id: string;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  userAgent: string | null;
}

export class SessionStore {
  readonly #db: Kysely<Database>;
  readonly #ttlMs: number;
  readonly #maxPerPerson: number;
  #lastSweep = 0;

  constructor(db: Kysely<Database>, ttlMs: number = DEFAULT_SESSION_TTL_MS, maxPerPerson: number = DEFAULT_SESSIONS_PER_PERSON) {
    this.#db = db;
    this.#ttlMs = ttlMs;
    this.#maxPerPerson = maxPerPerson;
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
    await this.#endSessionsOverCap(personId, session.id);
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

  /** The person's live sessions, the most recently used first. */
  async listPersonSessions(personId: string, now: number = Date.now()): Promise<ListedSession[]> {
    const rows = await this.#db
      .selectFrom('sessions')
      .select(['id', 'created_at', 'last_seen_at', 'expires_at', 'user_agent'])
      .where('person_id', '=', personId)
      .where('expires_at', '>', now)
      .orderBy('last_seen_at', 'desc')
      .orderBy('id', 'desc')
      .execute();
    return rows.map((r) => ({ id: r.id, createdAt: r.created_at, lastSeenAt: r.last_seen_at, expiresAt: r.expires_at, userAgent: r.user_agent }));
  }

  /** Ends one of the person's own sessions; false when they have none with this id. */
  async revokeOwnSession(personId: string, id: string): Promise<boolean> {
    const result = await this.#db.deleteFrom('sessions').where('id', '=', id).where('person_id', '=', personId).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** Past the cap, the least recently used sessions end (never the one just opened). */
  async #endSessionsOverCap(personId: string, keepId: string): Promise<void> {
    const surplus = await this.#db
      .selectFrom('sessions')
      .select('id')
      .where('person_id', '=', personId)
      .where('id', '!=', keepId)
      .orderBy('last_seen_at', 'desc')
      .orderBy('id', 'desc')
      .offset(this.#maxPerPerson - 1)
      .limit(1000)
      .execute();
    if (surplus.length > 0) await this.#db.deleteFrom('sessions').where('id', 'in', surplus.map((r) => r.id)).execute();
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
