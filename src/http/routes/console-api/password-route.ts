/** POST /api/password {current, next}: changes the password and logs out every other session; 204. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AccountContext } from './account-context.js';
import { sessionOf } from './console-guard.js';
import { parseInput } from './parse-input.js';

const body = z.object({ current: z.string(), next: z.string() });

export function registerPasswordRoute(api: FastifyInstance, context: AccountContext): void {
  api.post('/password', async (request, reply) => {
    const { current, next } = parseInput(body, request.body, 'body');
    const { person, session } = sessionOf(request);
    await context.accounts.changePassword({ personId: person.id, sessionId: session.id, current, next, address: request.ip });
    return reply.code(204).send();
  });
}
