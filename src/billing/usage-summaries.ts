/**
 * The read side of billing for one person, as the console API and the CLI show it.
 * Amounts are micro-units (docs/billing.md).
 */
import { sql, type Kysely } from 'kysely';
import { MoongateError } from '../contract/errors.js';
import { decodeCursor, encodeCursor } from '../store/cursor.js';
import type { Database, UsageStatus } from '../store/database.js';
import type { Price } from './price-list.js';
import { readPrices } from './price-store.js';

export interface BalanceSummary {
  /** What remains of the person's quota, over all their applications. */
  quota: number;
  /** The person's global balance. */
  balance: number;
  /** Held right now by running requests (on quota and balance alike). */
  held: number;
  currency: string;
}

/** `currency` labels the summary: the operator's MOONGATE_CURRENCY, which the caller holds. */
export async function getBalanceSummary(db: Kysely<Database>, personId: string, currency: string): Promise<BalanceSummary> {
  const rows = await db
    .selectFrom('wallets')
    .select(['kind', sql<number>`sum(amount)`.as('amount'), sql<number>`sum(held)`.as('held')])
    .where('person_id', '=', personId)
    .groupBy('kind')
    .execute();
  const summary: BalanceSummary = { quota: 0, balance: 0, held: 0, currency };
  for (const row of rows) {
    // sum() of int8 is numeric on PostgreSQL (a string); of INTEGER, an integer on SQLite.
    const amount = Number(row.amount);
    if (row.kind === 'quota') summary.quota += amount;
    else summary.balance += amount;
    summary.held += Number(row.held);
  }
  return summary;
}

export interface UsageRow {
  traceId: string;
  createdAt: number;
  model: string;
  credentialId: string;
  credentialName: string;
  serviceSlug: string;
  stream: boolean;
  status: string;
  errorCode: string | null;
  promptTokens: number;
  cachedTokens: number;
  /** The part of promptTokens the upstream wrote to its cache. */
  cacheWriteTokens: number;
  completionTokens: number;
  cost: number;
  durationMs: number;
  ttftMs: number | null;
  channel: string | null;
}

export interface UsageQuery {
  since?: number;
  until?: number;
  model?: string;
  status?: string;
  /** One credential's rows. */
  credentialId?: string;
  /** Default 50, at most 500. */
  limit?: number;
  /** The `next` of the previous page. */
  before?: string;
}

const DEFAULT_PAGE = 50;
const MAX_PAGE = 500;

/**
 * The person's usage rows (everyone's with personId null, for operators), newest first, a
 * page at a time (keyset pagination on time and trace id: rows written while someone pages
 * are newer than the cursor, so no row shows twice or goes missing across pages).
 */
export async function listUsage(
  db: Kysely<Database>,
  personId: string | null,
  q: UsageQuery,
): Promise<{ rows: UsageRow[]; next: string | null }> {
  const limit = q.limit ?? DEFAULT_PAGE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    throw new MoongateError('bad_request', `limit must be a whole number from 1 to ${MAX_PAGE}`);
  }
  let query = db
    .selectFrom('usage as u')
    .innerJoin('credentials as c', 'c.id', 'u.credential_id')
    .innerJoin('services as s', 's.id', 'u.service_id')
    .select([
      'u.trace_id',
      'u.created_at',
      'u.model',
      'u.credential_id',
      'c.name as credential_name',
      's.slug as service_slug',
      'u.stream',
      'u.status',
      'u.error_code',
      'u.prompt_tokens',
      'u.cached_tokens',
      'u.cache_write_tokens',
      'u.completion_tokens',
      'u.cost',
      'u.duration_ms',
      'u.ttft_ms',
      'u.channel',
    ])
    .$if(personId !== null, (qb) => qb.where('u.person_id', '=', personId ?? ''));
  if (q.credentialId !== undefined) query = query.where('u.credential_id', '=', q.credentialId);
  if (q.since !== undefined) query = query.where('u.created_at', '>=', q.since);
  if (q.until !== undefined) query = query.where('u.created_at', '<', q.until);
  if (q.model !== undefined) query = query.where('u.model', '=', q.model);
  if (q.status !== undefined) query = query.where('u.status', '=', q.status as UsageStatus);
  if (q.before !== undefined) {
    const cursor = decodeCursor(q.before);
    query = query.where((eb) =>
      eb.or([
        eb('u.created_at', '<', cursor.createdAt),
        eb.and([eb('u.created_at', '=', cursor.createdAt), eb('u.trace_id', '<', cursor.key)]),
      ]),
    );
  }
  const found = await query.orderBy('u.created_at', 'desc').orderBy('u.trace_id', 'desc').limit(limit + 1).execute();
  const rows = found.slice(0, limit).map(
    (r): UsageRow => ({
      traceId: r.trace_id,
      createdAt: r.created_at,
      model: r.model,
      credentialId: r.credential_id,
      credentialName: r.credential_name,
      serviceSlug: r.service_slug,
      stream: r.stream === 'true',
      status: r.status,
      errorCode: r.error_code,
      promptTokens: r.prompt_tokens,
      cachedTokens: r.cached_tokens,
      cacheWriteTokens: r.cache_write_tokens,
      completionTokens: r.completion_tokens,
      cost: r.cost,
      durationMs: r.duration_ms,
      ttftMs: r.ttft_ms,
      channel: r.channel,
    }),
  );
  const last = rows.at(-1);
  const next = found.length > limit && last !== undefined ? encodeCursor(last.createdAt, last.traceId) : null;
  return { rows, next };
}

export interface DailyUsage {
  /** YYYY-MM-DD, UTC. */
  day: string;
  model: string;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  cost: number;
}

const DAY_MS = 86_400_000;

/** The person's totals per UTC day and model over [since, until), oldest day first. */
export function dailyUsage(db: Kysely<Database>, personId: string, q: { since: number; until: number }): Promise<DailyUsage[]> {
  return dailyTotals(db, personId, q);
}

/** Everyone's totals per UTC day and model over [since, until): the operator's chart. */
export function dailyUsageOfEveryone(db: Kysely<Database>, q: { since: number; until: number }): Promise<DailyUsage[]> {
  return dailyTotals(db, null, q);
}

/** Scoped to one person in the query itself, or (null) to nobody: only the two exported callers choose. */
async function dailyTotals(db: Kysely<Database>, personId: string | null, q: { since: number; until: number }): Promise<DailyUsage[]> {
  // Integer division on both dialects (bigint / bigint in PostgreSQL, INTEGER / INTEGER in SQLite).
  const day = sql<number>`u.created_at / ${sql.lit(DAY_MS)}`;
  let query = db
    .selectFrom('usage as u')
    .select([
      day.as('day'),
      'u.model',
      sql<number>`count(*)`.as('requests'),
      sql<number>`sum(u.prompt_tokens)`.as('prompt_tokens'),
      sql<number>`sum(u.completion_tokens)`.as('completion_tokens'),
      sql<number>`sum(u.cost)`.as('cost'),
    ])
    .where('u.created_at', '>=', q.since)
    .where('u.created_at', '<', q.until);
  if (personId !== null) query = query.where('u.person_id', '=', personId);
  const rows = await query.groupBy([day, 'u.model']).orderBy('day').orderBy('u.model').execute();
  return rows.map((r) => ({
    day: new Date(Number(r.day) * DAY_MS).toISOString().slice(0, 10),
    model: r.model,
    requests: Number(r.requests),
    promptTokens: Number(r.prompt_tokens),
    completionTokens: Number(r.completion_tokens),
    cost: Number(r.cost),
  }));
}

/** Micro-units per 1M tokens, by model. */
export async function listPrices(db: Kysely<Database>): Promise<Price[]> {
  return readPrices(db);
}
