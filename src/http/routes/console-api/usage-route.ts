/**
 * The person's own usage, newest first:
 * - GET /api/usage?since&until&model&status&limit&before: rows, paged by the opaque
 *   `next` cursor (pass it back as `before`);
 * - GET /api/usage/daily?since&until: per day and model.
 * Times are milliseconds since the epoch; every query is scoped to the session's person.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { dailyUsage, listUsage } from '../../../billing/usage-summaries.js';
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
const rowsQuery = z.object({
  since: time.optional(),
  until: time.optional(),
  model: z.string().min(1).max(100).optional(),
  status: z.enum(['completed', 'failed', 'aborted']).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_USAGE_PAGE).optional(),
  before: z.string().min(1).max(200).optional(),
});
const dailyQuery = z.object({ since: time, until: time });

export function registerUsageRoute(api: FastifyInstance, context: AccountContext): void {
  api.get('/usage', async (request) => {
    const query = parseInput(rowsQuery, request.query, 'query');
    checkRange(query.since, query.until);
    const { person } = sessionOf(request);
    return listUsage(context.store.db, person.id, query);
  });

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
