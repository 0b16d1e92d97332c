/** GET /v1/models and GET /kimi/models: the 7 public models, in OpenAI's list shape. */
import type { FastifyInstance } from 'fastify';
import { KIMI_MODELS, MODELS_CREATED } from '../../contract/index.js';

export const MODELS_PATHS = ['/v1/models', '/kimi/models'] as const;

export function registerModelsRoute(app: FastifyInstance): void {
  const body = JSON.stringify({
    object: 'list',
    data: KIMI_MODELS.map((m) => ({
      id: m.id,
      object: 'model',
      created: MODELS_CREATED,
      owned_by: 'moonshotai',
      context_length: m.contextTokens,
      thinking: m.thinking,
    })),
  });
  for (const path of MODELS_PATHS) {
    app.get(path, async (_request, reply) => reply.type('application/json').send(body));
  }
}
