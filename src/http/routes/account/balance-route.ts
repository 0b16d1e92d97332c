/**
 * GET /api/balance: the person's free quota, global balance and what is held by requests in
 * flight, in micro-units. GET /api/balance/history: where the money came from (the free-quota
 * grants and the redeemed top-up codes, billing/balance-history.ts).
 */
import type { FastifyInstance } from 'fastify';
import { getBalanceSummary } from '../../../billing/account-queries.js';
import { balanceHistory } from '../../../billing/balance-history.js';
import type { AccountContext } from './account-context.js';
import { sessionOf } from './console-guard.js';

export function registerBalanceRoute(api: FastifyInstance, context: AccountContext): void {
  api.get('/balance', async (request) => {
    const { person } = sessionOf(request);
    const summary = await getBalanceSummary(context.store.db, person.id);
    // This server's own currency: getBalanceSummary's label is one module-wide setting, which the
    // last server started in the process (tests start several) would otherwise decide.
    return { ...summary, currency: context.currency };
  });
  api.get('/balance/history', async (request) => ({
    events: await balanceHistory(context.store.db, sessionOf(request).person.id),
    currency: context.currency,
  }));
}
