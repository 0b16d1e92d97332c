/**
 * GET /api/balance: the person's free quota, global balance and what is held by requests in
 * flight, in micro-units. GET /api/balance/history: where the money came from (the free-quota
 * grants and the redeemed top-up codes, billing/balance-history.ts).
 */
import type { FastifyInstance } from 'fastify';
import { getBalanceSummary } from '../../../billing/usage-summaries.js';
import { balanceHistory } from '../../../billing/balance-history.js';
import type { AccountContext } from './account-context.js';
import { sessionOf } from './console-guard.js';

export function registerBalanceRoute(api: FastifyInstance, context: AccountContext): void {
  api.get('/balance', async (request) => {
    const { person } = sessionOf(request);
    return getBalanceSummary(context.store.db, person.id, context.currency);
  });
  api.get('/balance/history', async (request) => ({
    events: await balanceHistory(context.store.db, sessionOf(request).person.id),
    currency: context.currency,
  }));
}
