/** GET /api/balance: the person's free quota, global balance and what is held by requests in flight, in micro-units. */
import type { FastifyInstance } from 'fastify';
import { getBalanceSummary } from '../../../billing/usage-summaries.js';
import type { AccountContext } from './account-context.js';
import { sessionOf } from './console-guard.js';

export function registerBalanceRoute(api: FastifyInstance, context: AccountContext): void {
  api.get('/balance', async (request) => {
    const { person } = sessionOf(request);
    return getBalanceSummary(context.store.db, person.id, context.currency);
  });
}
