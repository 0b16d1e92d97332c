/**
 * GET /v1/models and GET /kimi/models: the catalogue's active models (docs/models.md), in
 * OpenAI's list shape with Moonshot's capability fields, which coding agents read. The
 * catalogue is refreshed first (one small query, shared by requests at once), so a model
 * the CLI has just switched on is listed at once.
 */
import type { FastifyInstance } from 'fastify';
import { MODELS_CREATED, type KimiModel, type ModelLookup } from '../../contract/index.js';

export const MODELS_PATHS = ['/v1/models', '/kimi/models'] as const;

export function modelEntry(m: KimiModel) {
  return {
    id: m.id,
    object: 'model' as const,
    created: MODELS_CREATED,
    owned_by: 'moonshotai',
    context_length: m.contextTokens,
    thinking: m.thinking,
    supports_image_in: m.inputs.includes('image'),
    supports_video_in: m.inputs.includes('video'),
    supports_reasoning: m.thinking,
    think_efforts: [...m.efforts],
  };
}

export function registerModelsRoute(app: FastifyInstance, models: ModelLookup): void {
  for (const path of MODELS_PATHS) {
    app.get(path, async (_request, reply) => {
      await models.refresh?.();
      return reply.type('application/json').send(JSON.stringify({ object: 'list', data: models.listed().map(modelEntry) }));
    });
  }
}
