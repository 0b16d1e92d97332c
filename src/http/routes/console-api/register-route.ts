/**
 * POST /api/register {email, password, setupToken?}: a new person, logged in (the session
 * cookie is set). With the setup link's token, on an install without an active operator,
 * the person is the operator (accounts/setup-link.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { AccountContext } from './account-context.js';
import { registerBody } from './login-body.js';
import { parseInput } from './parse-input.js';
import { personView } from './person-view.js';
import { setSessionCookie } from './session-cookie.js';

export function registerRegisterRoute(api: FastifyInstance, context: AccountContext): void {
  api.post('/register', { config: { access: 'public' } }, async (request, reply) => {
    const body = parseInput(registerBody, request.body, 'body');
    const loggedIn = await context.accounts.register({ ...body, address: request.ip, userAgent: request.headers['user-agent'] });
    setSessionCookie(request, reply, loggedIn.sessionId, context.sessions.ttlMs);
    return reply.code(201).send({ person: personView(loggedIn.person), csrfToken: loggedIn.session.csrfToken });
  });
}
