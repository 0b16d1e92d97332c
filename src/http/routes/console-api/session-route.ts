/**
 * GET /api/session: who is logged in, and the CSRF token the console sends back on every
 * change; 401 when nobody. With `?optional=true` nobody is a 200 `{"person": null}`
 * instead: the console asks on every page load, and an expected 401 would be logged as an
 * error in the browser's console.
 */
import type { FastifyInstance } from 'fastify';
import { MoongateError } from '../../../contract/errors.js';
import { personView } from './person-view.js';

export function registerSessionRoute(api: FastifyInstance): void {
  api.get<{ Querystring: { optional?: string } }>('/session', { config: { access: 'optional' } }, async (request) => {
    const found = request.consoleSession;
    if (found === null) {
      if (request.query.optional === 'true') return { person: null, csrfToken: null };
      throw new MoongateError('invalid_token', 'Log in first.');
    }
    return { person: personView(found.person), csrfToken: found.session.csrfToken, expiresAt: found.session.expiresAt };
  });
}
