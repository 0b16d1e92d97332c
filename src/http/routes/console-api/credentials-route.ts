/**
 * The person's own credentials:
 * - GET /api/credentials: all of them, revoked ones included, never a token, the
 *   default limits that apply where a credential's own are null, and the person's limits
 *   across all their credentials;
 * - POST /api/credentials {name?, global?, service?, expiresInDays?}: a new one; its token
 *   is in this response only (201); 400 when the person holds their limit of credentials
 *   already (docs/security.md, "Per-person limits");
 * - DELETE /api/credentials/:id: revokes it. Someone else's id gets the same 404 no_api
 *   as an id that does not exist, so nobody learns another person's ids.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { PersonStore } from '../../../accounts/person-store.js';
import { MoongateError } from '../../../contract/errors.js';
import { DEFAULT_REQUEST_LIMITS } from '../../../limits/request-limiter.js';
import { KIMI_SERVICE } from '../../../store/seed-services.js';
import type { AccountContext } from './account-context.js';
import { sessionOf } from './console-guard.js';
import { credentialView } from './credential-view.js';
import { announceChange } from './announce-change.js';
import { parseInput } from './parse-input.js';

const DAY_MS = 86_400_000;

const createBody = z.object({
  name: z.string().trim().min(1).max(100).optional(),
  global: z.boolean().optional(),
  service: z.string().min(1).max(100).optional(),
  expiresInDays: z.number().int().min(1).max(3650).nullable().optional(),
});
const idParams = z.object({ id: z.string().min(1).max(100) });

export function registerCredentialsRoute(api: FastifyInstance, context: AccountContext): void {
  api.get('/credentials', async (request) => {
    const { person } = sessionOf(request);
    const credentials = await context.credentials.listCredentials(person.id);
    const defaults = context.defaultLimits ?? DEFAULT_REQUEST_LIMITS;
    const own = await new PersonStore(context.store.db).getPersonLimits(person.id);
    return {
      credentials: credentials.map(credentialView),
      defaults: { rps: defaults.rps, concurrency: defaults.concurrency },
      // What the person may do across all their credentials (their own limits, or the defaults).
      personLimits: {
        credentials: own.credentials ?? context.personLimits.credentials,
        rps: own.rps ?? context.personLimits.rps,
        concurrency: own.concurrency ?? context.personLimits.concurrency,
      },
    };
  });

  api.post('/credentials', async (request, reply) => {
    const body = parseInput(createBody, request.body, 'body');
    const { person } = sessionOf(request);
    if (body.global === true && body.service !== undefined) {
      throw new MoongateError('bad_request', 'service: a global credential works on every service; give one or the other');
    }
    const now = Date.now();
    const common = {
      personId: person.id,
      // The person's credential count (PERSON_CREDENTIALS_LIMIT, or the operator's per person).
      credentialsLimit: { defaultLimit: context.personLimits.credentials },
      name: body.name,
      expiresAt: body.expiresInDays === undefined || body.expiresInDays === null ? null : now + body.expiresInDays * DAY_MS,
    };
    const serviceSlug = body.service ?? KIMI_SERVICE.slug;
    if (body.global !== true) {
      const service = await context.store.db.selectFrom('services').select('id').where('slug', '=', serviceSlug).executeTakeFirst();
      if (service === undefined) throw new MoongateError('bad_request', `service: no service has the slug ${serviceSlug}`);
    }
    const issued = await context.credentials.issueCredential(body.global === true ? { ...common, global: true } : { ...common, serviceSlug }, now);
    return reply.code(201).send({ credential: credentialView(issued.credential), token: issued.token });
  });

  api.delete('/credentials/:id', async (request) => {
    const { id } = parseInput(idParams, request.params, 'params');
    const { person } = sessionOf(request);
    const revoked = await context.credentials.revokeOwnCredential(person.id, id);
    if (revoked === undefined) throw new MoongateError('no_api', `No credential ${id}`);
    await announceChange(context, request, { kind: 'credential', id });
    return { credential: credentialView(revoked) };
  });
}
