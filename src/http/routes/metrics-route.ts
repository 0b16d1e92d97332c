/** GET /metrics: Prometheus text format (docs/operations.md lists the metrics). */
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../../observability/metrics.js';

export function registerMetricsRoute(app: FastifyInstance, metrics: Metrics): void {
  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await metrics.render();
    return reply.type(contentType).send(body);
  });
}
