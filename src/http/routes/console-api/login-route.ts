/**
 * POST /api/login {email, password}: a new session (cookie) and its CSRF token. A wrong
 * email or password is 401 invalid_token with one message for both; too many failures
 * are 429 too_many_requests with retry-after (limits/login-throttle.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { AccountContext } from './account-context.js';
import { loginBody } from './login-body.js';
import { parseInput } from './parse-input.js';
import { personView } from './person-view.js';
import { setSessionCookie } from './session-cookie.js';

export function registerLoginRoute(api: FastifyInstance, context: AccountContext): void {
  api.post('/login', { config: { access: 'public' } }, async (request, reply) => {
    const body = parseInput(loginBody, request.body, 'body');
    const loggedIn = await context.accounts.login({ ...body, address: request.ip, userAgent: request.headers['user-agent'] });
    setSessionCookie(request, reply, loggedIn.sessionId, context.sessions.ttlMs);
    return reply.send({ person: personView(loggedIn.person), csrfToken: loggedIn.session.csrfToken });
  });
}
