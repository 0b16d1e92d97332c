/**
 * POST /api/credentials/:id/playground-token: a short-lived token (15 minutes) for one of
 * the person's own credentials, bound to this session, so the console's playground can call
 * the real chat API with it (docs/console-api.md, "The playground"). Someone else's
 * credential, a revoked one and an unknown id get the same 404 no_api.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { MoongateError } from '../../../contract/errors.js';
import type { AccountContext } from './account-context.js';
import { sessionOf } from './console-guard.js';
import { parseInput } from './parse-input.js';

const params = z.object({ id: z.string().min(1).max(100) });

export function registerPlaygroundTokenRoute(api: FastifyInstance, context: AccountContext): void {
  api.post('/credentials/:id/playground-token', async (request, reply) => {
    const { id } = parseInput(params, request.params, 'params');
    const { person, session } = sessionOf(request);
    const minted = await context.playgroundTokens.mint({ personId: person.id, sessionId: session.id, credentialId: id });
    if (minted === undefined) throw new MoongateError('no_api', `No credential ${id}`);
    return reply.code(201).send(minted);
  });
}
