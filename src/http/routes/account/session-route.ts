/** GET /api/session: who is logged in, and the CSRF token the console sends back on every change; 401 when nobody. */
import type { FastifyInstance } from 'fastify';
import { sessionOf } from './console-guard.js';
import { personView } from './person-view.js';

export function registerSessionRoute(api: FastifyInstance): void {
  api.get('/session', async (request) => {
    const { person, session } = sessionOf(request);
    return { person: personView(person), csrfToken: session.csrfToken, expiresAt: session.expiresAt };
  });
}
