/**
 * GET /healthz: the process is alive and serving (no dependency is checked, so a
 * restart loop never starts because the database blinked).
 * GET /readyz: ready for traffic: every readiness check passes (the store answers a
 * query, no settlement waits for it). 200 `{"status":"ready"}`, or 500 in SPEC.md's envelope naming what failed. A check
 * may pass with a note (Redis unreachable: the replica serves with local limits); the notes
 * are listed in the 200 body, `{"status":"ready","degraded":["..."]}`.
 * While the server drains at shutdown, /readyz fails so load balancers stop sending.
 */
import type { FastifyInstance } from 'fastify';
import { MoongateError } from '../../contract/index.js';
import type { ReadinessCheck } from '../../observability/readiness-check.js';
import { sendError } from '../error-handler.js';

export function registerHealthRoute(app: FastifyInstance, checks: readonly ReadinessCheck[] = [], draining = (): boolean => false): void {
  app.get('/healthz', async (_request, reply) => reply.type('application/json').send('{"status":"ok"}'));
  app.get('/readyz', async (request, reply) => {
    if (draining()) return sendError(reply, new MoongateError('api_error', 'the server is shutting down'), request.id);
    const degraded: string[] = [];
    for (const { name, check } of checks) {
      try {
        const note = await check();
        if (typeof note === 'string') degraded.push(note);
      } catch (error) {
        request.log.warn({ err: error, check: name }, 'readiness check failed');
        // A check that says why (a MoongateError) is answered with its words.
        const answer = error instanceof MoongateError ? error : new MoongateError('api_error', `not ready: ${name} is unreachable`);
        return sendError(reply, answer, request.id);
      }
    }
    if (degraded.length > 0) return reply.type('application/json').send(JSON.stringify({ status: 'ready', degraded }));
    return reply.type('application/json').send('{"status":"ready"}');
  });
}
