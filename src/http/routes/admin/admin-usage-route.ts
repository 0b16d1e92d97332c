/**
 * The operator's view of everyone's usage (admin only):
 * - GET /api/admin/usage/daily?since&until: totals per UTC day and model, for the chart;
 * - GET /api/admin/usage?since&until&model&status&credential&limit&before: the rows, paged;
 * - GET /api/admin/usage/export.csv?…: every matching row as CSV, streamed.
 */
import type { FastifyInstance } from 'fastify';
import { dailyUsageOfEveryone, listUsage } from '../../../billing/usage-summaries.js';
import type { AccountContext } from '../console-api/account-context.js';
import { parseDailyRange, parseUsageRowsQuery, sendUsageCsv } from '../console-api/usage-route.js';

export function registerAdminUsageRoute(api: FastifyInstance, context: AccountContext): void {
  api.get('/admin/usage/daily', { config: { access: 'admin' } }, async (request) => {
    const range = parseDailyRange(request.query);
    return { days: await dailyUsageOfEveryone(context.store.db, range) };
  });
  api.get('/admin/usage', { config: { access: 'admin' } }, async (request) => listUsage(context.store.db, null, parseUsageRowsQuery(request.query)));
  api.get('/admin/usage/export.csv', { config: { access: 'admin' } }, async (request, reply) => sendUsageCsv(reply, context, null, request.query));
}
