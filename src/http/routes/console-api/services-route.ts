/**
 * GET /api/services: the services a person can acquire, each with the models it serves
 * (every service serves the catalogue's active models) and their prices in micro-units of
 * the operator's currency per 1M tokens. Open to everyone, so the console can show a
 * service page before login; with a session, each service also says whether the person
 * has acquired it.
 */
import type { FastifyInstance } from 'fastify';
import { listPrices } from '../../../billing/usage-summaries.js';
import { BUILT_IN_LOOKUP } from '../../../contract/models.js';
import type { AccountContext } from './account-context.js';

export function registerServicesRoute(api: FastifyInstance, context: AccountContext): void {
  api.get('/services', { config: { access: 'optional' } }, async (request) => {
    const db = context.store.db;
    const prices = new Map((await listPrices(db)).map((p) => [p.model, p]));
    const models = (context.models ?? BUILT_IN_LOOKUP).listed().map((m) => {
      const price = prices.get(m.id);
      return {
        id: m.id,
        displayName: m.displayName,
        thinking: m.thinking,
        thinkingMode: m.thinkingMode,
        efforts: m.efforts,
        inputs: m.inputs,
        contextTokens: m.contextTokens,
        price:
          price === undefined
            ? null
            : { cachedInput: price.cachedInput, input: price.input, output: price.output, cacheWrite: price.cacheWrite },
      };
    });
    const services = await db.selectFrom('services').select(['id', 'slug', 'name', 'status']).orderBy('created_at').orderBy('id').execute();
    const personId = request.consoleSession?.person.id;
    const applications =
      personId === undefined
        ? []
        : await db.selectFrom('applications').select(['id', 'service_id', 'status', 'created_at']).where('person_id', '=', personId).execute();
    return {
      services: services.map((service) => {
        const application = applications.find((a) => a.service_id === service.id);
        return {
          slug: service.slug,
          name: service.name,
          status: service.status,
          currency: context.currency,
          models,
          ...(personId === undefined
            ? {}
            : {
                application:
                  application === undefined ? null : { id: application.id, status: application.status, createdAt: application.created_at },
              }),
        };
      }),
    };
  });
}
