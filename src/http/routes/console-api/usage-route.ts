/**
 * The person's own usage, newest first:
 * - GET /api/usage?since&until&model&status&limit&before: rows, paged by the opaque
 *   `next` cursor (pass it back as `before`);
 * - GET /api/usage/export.csv?since&until&model&status&credential: every matching row as CSV,
 *   streamed a page at a time (billing/usage-export.ts), the console's Download button;
 * - GET /api/usage/daily?since&until: per day and model.
 * `credential` narrows to one credential's rows. The operator's twins of the first two are
 * GET /api/admin/usage and /api/admin/usage/export.csv (everyone's rows, admin-usage-route.ts).
 * Times are milliseconds since the epoch; every query is scoped to the session's person.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { dailyUsage, listUsage } from '../../../billing/usage-summaries.js';
import { usageExportText } from '../../../billing/usage-export.js';
import { MoongateError } from '../../../contract/errors.js';
import type { AccountContext } from './account-context.js';
import { sessionOf } from './console-guard.js';
import { parseInput } from './parse-input.js';

const DAY_MS = 86_400_000;
/** A year and a day: a daily chart of more than that is not one a console draws. */
const MAX_DAILY_RANGE_MS = 366 * DAY_MS;
/** listUsage's own bound, checked here too so the error names the field like every other. */
const MAX_USAGE_PAGE = 500;

const time = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const filterQuery = z.object({
  since: time.optional(),
  until: time.optional(),
  model: z.string().min(1).max(100).optional(),
  status: z.enum(['completed', 'failed', 'aborted']).optional(),
  credential: z.string().min(1).max(100).optional(),
});
const rowsQuery = filterQuery.extend({
  limit: z.coerce.number().int().min(1).max(MAX_USAGE_PAGE).optional(),
  before: z.string().min(1).max(200).optional(),
});

/** `?since&until&model&status&credential[&limit&before]` as listUsage takes it. */
export function parseUsageRowsQuery(value: unknown) {
  const { credential, ...query } = parseInput(rowsQuery, value, 'query');
  checkRange(query.since, query.until);
  return { ...query, ...(credential === undefined ? {} : { credentialId: credential }) };
}

/** `?since&until&model&status&credential` of an export (no paging: it is every row). */
export function parseUsageFilter(value: unknown) {
  const { credential, ...query } = parseInput(filterQuery, value, 'query');
  checkRange(query.since, query.until);
  return { ...query, ...(credential === undefined ? {} : { credentialId: credential }) };
}

/** Streams the export as a CSV download: one page of rows in memory at a time. */
export function sendUsageCsv(reply: FastifyReply, context: AccountContext, personId: string | null, value: unknown) {
  const filter = parseUsageFilter(value);
  return reply
    .type('text/csv; charset=utf-8')
    .header('content-disposition', 'attachment; filename="moongate-usage.csv"')
    .send(Readable.from(usageExportText(context.store.db, personId, filter, 'csv')));
}
const dailyQuery = z.object({ since: time, until: time });

export function registerUsageRoute(api: FastifyInstance, context: AccountContext): void {
  api.get('/usage', async (request) => {
    const query = parseUsageRowsQuery(request.query);
    const { person } = sessionOf(request);
    return listUsage(context.store.db, person.id, query);
  });

  api.get('/usage/export.csv', async (request, reply) => sendUsageCsv(reply, context, sessionOf(request).person.id, request.query));

  api.get('/usage/daily', async (request) => {
    const query = parseDailyRange(request.query);
    const { person } = sessionOf(request);
    return { days: await dailyUsage(context.store.db, person.id, query) };
  });
}

/** `?since&until` of a daily chart: both required, in order, at most 366 days apart (also the operator's chart). */
export function parseDailyRange(value: unknown): { since: number; until: number } {
  const query = parseInput(dailyQuery, value, 'query');
  checkRange(query.since, query.until);
  if (query.until - query.since > MAX_DAILY_RANGE_MS) {
    throw new MoongateError('bad_request', 'until: the range may span at most 366 days');
  }
  return query;
}

function checkRange(since: number | undefined, until: number | undefined): void {
  if (since !== undefined && until !== undefined && until < since) {
    throw new MoongateError('bad_request', 'until must not be before since');
  }
}
