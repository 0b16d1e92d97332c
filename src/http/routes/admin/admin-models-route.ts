/**
 * The model catalogue (admin only; docs/models.md):
 * - GET /api/admin/models: every row, whatever its state, with its prices (micro-units per 1M tokens);
 * - PATCH /api/admin/models/:id {displayName?, state?, replacement?, retiredMessage?,
 *   contextTokens?, defaultMaxTokens?, maxCompletionTokens?, price?}: what `moongate model
 *   set` and `retire` do, in one transaction. The change is announced on the change bus, so
 *   every replica reloads its catalogue (with REDIS_URL, within milliseconds; the others
 *   poll within a second), and this process's price cache is told at once.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { setPrice } from '../../../billing/price-store.js';
import { listPrices } from '../../../billing/usage-summaries.js';
import { ModelStore, type ModelPatch } from '../../../catalogue/model-store.js';
import { MODEL_STATES } from '../../../contract/models.js';
import type { AccountContext } from '../console-api/account-context.js';
import { parseInput } from '../console-api/parse-input.js';

const ADMIN = { config: { access: 'admin' as const } };

const idParams = z.object({ id: z.string().min(1).max(100) });
const microUnits = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const tokens = z.number().int().min(1).max(100_000_000);
const patchBody = z
  .object({
    displayName: z.string().min(1).max(100).optional(),
    state: z.enum(MODEL_STATES).optional(),
    replacement: z.string().min(1).max(100).nullable().optional(),
    retiredMessage: z.string().min(1).max(500).nullable().optional(),
    contextTokens: tokens.optional(),
    defaultMaxTokens: tokens.optional(),
    maxCompletionTokens: tokens.optional(),
    price: z.object({ cachedInput: microUnits, input: microUnits, output: microUnits, cacheWrite: microUnits.optional() }).strict().optional(),
  })
  .strict();

export function registerAdminModelsRoute(api: FastifyInstance, context: AccountContext): void {
  const models = new ModelStore(context.store.db);

  const listed = async () => {
    const prices = new Map((await listPrices(context.store.db)).map((p) => [p.model, p]));
    return (await models.list()).map((m) => {
      const p = prices.get(m.id);
      return { ...m, price: p === undefined ? null : { cachedInput: p.cachedInput, input: p.input, output: p.output, cacheWrite: p.cacheWrite } };
    });
  };

  api.get('/admin/models', ADMIN, async () => ({ currency: context.currency, models: await listed() }));

  api.patch('/admin/models/:id', ADMIN, async (request) => {
    const { id } = parseInput(idParams, request.params, 'params');
    const body = parseInput(patchBody, request.body, 'body');
    const { price, replacement, retiredMessage, ...rest } = body;
    const patch: ModelPatch = {
      ...rest,
      ...(replacement === undefined ? {} : { replacement: replacement ?? undefined }),
      ...(retiredMessage === undefined ? {} : { retiredMessage: retiredMessage ?? undefined }),
    };
    const model = await models.update(id, patch, async (trx) => {
      if (price !== undefined) await setPrice(trx, { model: id, ...price, cacheWrite: price.cacheWrite ?? price.input });
    });
    if (price !== undefined) context.prices.invalidate();
    await context.changes?.publish({ kind: 'model', id });
    await context.models?.refresh();
    return { model: (await listed()).find((m) => m.id === id) ?? model };
  });
}
