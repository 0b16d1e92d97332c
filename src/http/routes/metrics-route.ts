/**
 * GET /metrics: Prometheus text format (docs/operations.md lists the metrics), for the
 * operator only. Its labels name channels, models and upstream error rates, which are no
 * client's business (docs/security.md, "Metrics"): a scraper sends
 * `authorization: Bearer <METRICS_TOKEN>`, and without METRICS_TOKEN the route is off.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { MoongateError } from '../../contract/index.js';
import type { Metrics } from '../../observability/metrics.js';

/** Digests have one length whatever was sent, so the comparison takes the same time for any guess. */
function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

export function registerMetricsRoute(app: FastifyInstance, metrics: Metrics, token: string | undefined): void {
  const expected = token === undefined ? undefined : digest(token);
  app.get('/metrics', async (request, reply) => {
    if (expected === undefined) throw new MoongateError('no_api', 'No API at /metrics: set METRICS_TOKEN to turn metrics on');
    const header = request.headers.authorization;
    if (header === undefined || header === '') throw new MoongateError('no_token');
    const match = /^Bearer +(\S+) *$/i.exec(header);
    if (match?.[1] === undefined || !timingSafeEqual(digest(match[1]), expected)) throw new MoongateError('invalid_token');
    const { contentType, body } = await metrics.render();
    return reply.type(contentType).header('cache-control', 'no-store').send(body);
  });
}
