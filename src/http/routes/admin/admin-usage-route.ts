/** GET /api/admin/usage/daily?since&until (admin only): everyone's totals per UTC day and model, for the operator's chart. */
import type { FastifyInstance } from 'fastify';
import { dailyUsageOfEveryone } from '../../../billing/usage-summaries.js';
import type { AccountContext } from '../console-api/account-context.js';
import { parseDailyRange } from '../console-api/usage-route.js';

export function registerAdminUsageRoute(api: FastifyInstance, context: AccountContext): void {
  api.get('/admin/usage/daily', { config: { access: 'admin' } }, async (request) => {
    const range = parseDailyRange(request.query);
    return { days: await dailyUsageOfEveryone(context.store.db, range) };
  });
}
