/**
 * The price table (admin only), micro-units per 1M tokens:
 * - GET /api/admin/prices;
 * - PUT /api/admin/prices/:model {cachedInput, input, output, cacheWrite?}: what `moongate price set`
 *   does; this process's admission cache is told at once, so the next request is admitted
 *   at the new price (running requests keep theirs; other processes within 5 s).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { listPrices } from '../../../billing/usage-summaries.js';
import { setPrice } from '../../../billing/price-store.js';
import { MoongateError } from '../../../contract/errors.js';
import type { AccountContext } from '../console-api/account-context.js';
import { parseInput } from '../console-api/parse-input.js';

const ADMIN = { config: { access: 'admin' as const } };

const modelParams = z.object({ model: z.string().min(1).max(100) });
const microUnits = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
/** cacheWrite may be left out (clients written before it existed): it is then the input price. */
const priceBody = z.object({ cachedInput: microUnits, input: microUnits, output: microUnits, cacheWrite: microUnits.optional() });

export function registerAdminPricesRoute(api: FastifyInstance, context: AccountContext): void {
  api.get('/admin/prices', ADMIN, async () => ({ currency: context.currency, prices: await listPrices(context.store.db) }));

  api.put('/admin/prices/:model', ADMIN, async (request) => {
    const { model } = parseInput(modelParams, request.params, 'params');
    const body = parseInput(priceBody, request.body, 'body');
    const known = await context.store.db.selectFrom('models').select('id').where('id', '=', model).executeTakeFirst();
    if (known === undefined) throw new MoongateError('model_not_found', `${model} is not in the model catalogue`);
    const price = { model, cachedInput: body.cachedInput, input: body.input, output: body.output, cacheWrite: body.cacheWrite ?? body.input };
    await setPrice(context.store.db, price);
    context.prices.invalidate();
    return { price };
  });
}
