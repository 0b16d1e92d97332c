/**
 * POST /api/balance/redeem {code}: redeems a top-up code into the person's global balance,
 * exactly once (TopupCodeStore.redeem), and answers the new balance summary with
 * `redeemed` (micro-units). An unknown, used or expired code gets one answer, so a guess
 * learns nothing; failures are throttled per person (limits/redeem-throttle.ts).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { getBalanceSummary } from '../../../billing/usage-summaries.js';
import { MoongateError } from '../../../contract/errors.js';
import type { AccountContext } from './account-context.js';
import { sessionOf } from './console-guard.js';
import { parseInput } from './parse-input.js';

const body = z.object({ code: z.string().max(100) });

export const INVALID_CODE_MESSAGE = 'This code is not valid or has already been used.';

export function registerRedeemRoute(api: FastifyInstance, context: AccountContext): void {
  api.post('/balance/redeem', async (request) => {
    const { code } = parseInput(body, request.body, 'body');
    const { person } = sessionOf(request);
    await context.redeemThrottle.check(person.id);
    const redeemed = await context.topupCodes.redeem(person.id, code);
    if (redeemed === undefined) {
      await context.redeemThrottle.recordFailure(person.id);
      throw new MoongateError('bad_request', INVALID_CODE_MESSAGE);
    }
    const summary = await getBalanceSummary(context.store.db, person.id, context.currency);
    return { ...summary, redeemed };
  });
}
