/**
 * The person's own console sessions (docs/console-api.md, "Sessions"):
 * - GET /api/sessions: the live ones, most recently used first, each with its browser's
 *   user agent and `current` for the one asking; never a cookie value or CSRF token;
 * - DELETE /api/sessions/:id: ends one (its playground tokens stop with it); 204. Ending the
 *   current one is a logout, and clears the cookie. Someone else's id, or one already
 *   ended, is 404 no_api, like an id that never existed.
 * A person holds at most SESSIONS_PER_PERSON sessions (accounts/session-store.ts).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { MoongateError } from '../../../contract/errors.js';
import type { AccountContext } from './account-context.js';
import { sessionOf } from './console-guard.js';
import { parseInput } from './parse-input.js';
import { clearSessionCookie } from './session-cookie.js';

const idParams = z.object({ id: z.string().min(1).max(100) });

export function registerSessionsRoute(api: FastifyInstance, context: AccountContext): void {
  api.get('/sessions', async (request) => {
    const { person, session } = sessionOf(request);
    const sessions = await context.sessions.listPersonSessions(person.id);
    return { sessions: sessions.map((s) => ({ ...s, current: s.id === session.id })) };
  });

  api.delete('/sessions/:id', async (request, reply) => {
    const { id } = parseInput(idParams, request.params, 'params');
    const { person, session } = sessionOf(request);
    if (!(await context.sessions.revokeOwnSession(person.id, id))) throw new MoongateError('no_api', `No session ${id}`);
    if (id === session.id) clearSessionCookie(request, reply);
    return reply.code(204).send();
  });
}
