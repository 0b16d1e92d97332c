/**
 * The operator's list of people (GET /api/admin/people): who they are, what they have
 * (quota, balance, held, live credentials) and what they did in the last 30 days, newest
 * first, a page at a time. One query for the page, then one per figure for the page's
 * people only, so the cost follows the page size, not the number of people.
 */
import { sql, type Kysely } from 'kysely';
import { decodeCursor, encodeCursor } from '../store/cursor.js';
import type { Database, PersonRole, PersonStatus } from '../store/database.js';

export interface PersonOverview {
  id: string;
  email: string;
  role: PersonRole;
  status: PersonStatus;
  createdAt: number;
  /** Micro-units, as GET /api/balance counts them. */
  quota: number;
  balance: number;
  held: number;
  /** Credentials not revoked (active or disabled). */
  credentials: number;
  /** Requests logged, and what they cost, over the last 30 days. */
  requests30d: number;
  cost30d: number;
  /** The operator's limits for this person (null: the default, PERSON_*_LIMIT). */
  limits: PersonLimitOverrides;
}

export interface PersonLimitOverrides {
  credentials: number | null;
  rps: number | null;
  concurrency: number | null;
}

const DAY_MS = 86_400_000;
const RECENT_MS = 30 * DAY_MS;

export async function listPeopleOverview(
  db: Kysely<Database>,
  page: { query?: string | undefined; limit: number; before?: string | undefined },
  now: number = Date.now(),
): Promise<{ people: PersonOverview[]; next: string | null }> {
  let query = db
    .selectFrom('people')
    .select(['id', 'email', 'role', 'status', 'created_at', 'credentials_limit', 'rps_limit', 'concurrency_limit']);
  const search = page.query?.trim().toLowerCase() ?? '';
  if (search !== '') {
    // Emails are stored lowercased; LIKE's wildcards in the search are matched literally.
    const pattern = `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    query = query.where(sql<boolean>`email like ${pattern} escape '\\'`);
  }
  if (page.before !== undefined) {
    const cursor = decodeCursor(page.before);
    query = query.where((eb) =>
      eb.or([eb('created_at', '<', cursor.createdAt), eb.and([eb('created_at', '=', cursor.createdAt), eb('id', '<', cursor.key)])]),
    );
  }
  const found = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(page.limit + 1).execute();
  const rows = found.slice(0, page.limit);
  const ids = rows.map((r) => r.id);
  const people = rows.map(
    (r): PersonOverview => ({
      id: r.id,
      email: r.email,
      role: r.role,
      status: r.status,
      createdAt: r.created_at,
      quota: 0,
      balance: 0,
      held: 0,
      credentials: 0,
      requests30d: 0,
      cost30d: 0,
      limits: { credentials: r.credentials_limit, rps: r.rps_limit, concurrency: r.concurrency_limit },
    }),
  );
  if (ids.length > 0) {
    const byId = new Map(people.map((p) => [p.id, p]));
    const [wallets, credentials, usage] = await Promise.all([
      db
        .selectFrom('wallets')
        .select(['person_id', 'kind', sql<number>`sum(amount)`.as('amount'), sql<number>`sum(held)`.as('held')])
        .where('person_id', 'in', ids)
        .groupBy(['person_id', 'kind'])
        .execute(),
      db
        .selectFrom('credentials')
        .select(['person_id', sql<number>`count(*)`.as('count')])
        .where('person_id', 'in', ids)
        .where('status', '!=', 'revoked')
        .groupBy('person_id')
        .execute(),
      db
        .selectFrom('usage')
        .select(['person_id', sql<number>`count(*)`.as('requests'), sql<number>`sum(cost)`.as('cost')])
        .where('person_id', 'in', ids)
        .where('created_at', '>=', now - RECENT_MS)
        .groupBy('person_id')
        .execute(),
    ]);
    // Sums and counts are numeric or bigint text on PostgreSQL, integers on SQLite.
    for (const w of wallets) {
      const person = byId.get(w.person_id);
      if (person === undefined) continue;
      if (w.kind === 'quota') person.quota += Number(w.amount);
      else person.balance += Number(w.amount);
      person.held += Number(w.held);
    }
    for (const c of credentials) {
      const person = byId.get(c.person_id);
      if (person !== undefined) person.credentials = Number(c.count);
    }
    for (const u of usage) {
      const person = byId.get(u.person_id);
      if (person === undefined) continue;
      person.requests30d = Number(u.requests);
      person.cost30d = Number(u.cost);
    }
  }
  const last = people.at(-1);
  return { people, next: found.length > page.limit && last !== undefined ? encodeCursor(last.createdAt, last.id) : null };
}
