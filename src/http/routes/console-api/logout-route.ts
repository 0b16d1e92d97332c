/** POST /api/logout: ends the session (its row is deleted) and clears the cookie; 204 even when logged out already. */
import type { FastifyInstance } from 'fastify';
import type { AccountContext } from './account-context.js';
import { clearSessionCookie } from './session-cookie.js';

export function registerLogoutRoute(api: FastifyInstance, context: AccountContext): void {
  api.post('/logout', { config: { access: 'optional' } }, async (request, reply) => {
    const found = request.consoleSession;
    if (found !== null) await context.sessions.revokeSession(found.session.id);
    clearSessionCookie(request, reply);
    return reply.code(204).send();
  });
}
