/**
 * POST /api/services/:slug/acquire: SPEC.md's "Acquire". Makes the person's application
 * for the service (ensureApplication, which also grants a first application its free
 * quota) and, if the application has no credential yet, issues its first one. The token
 * is in this response only (201); acquiring again returns the application with
 * `credential: null` and no token (200). Serialised per person and service so a double
 * click issues one credential.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { MoongateError } from '../../../contract/errors.js';
import type { AccountContext } from './account-context.js';
import { sessionOf } from './console-guard.js';
import { credentialView } from './credential-view.js';
import { parseInput } from './parse-input.js';

const params = z.object({ slug: z.string().min(1).max(100) });

export function registerAcquireRoute(api: FastifyInstance, context: AccountContext): void {
  api.post('/services/:slug/acquire', async (request, reply) => {
    const { slug } = parseInput(params, request.params, 'params');
    const { person } = sessionOf(request);
    const service = await context.store.db.selectFrom('services').select(['id', 'status']).where('slug', '=', slug).executeTakeFirst();
    if (service === undefined) throw new MoongateError('no_api', `No service ${slug}`);
    if (service.status !== 'active') throw new MoongateError('disabled', 'The API has been disabled.');

    const acquired = await context.acquireLock.run(`${person.id}:${service.id}`, async () => {
      const application = await context.applications.ensureApplication(person.id, slug);
      const existing = (await context.credentials.listCredentials(person.id)).some((c) => c.applicationId === application.id);
      const issued = existing ? undefined : await context.credentials.issueCredential({
            personId: person.id,
            serviceSlug: slug,
            credentialsLimit: { defaultLimit: context.personLimits.credentials },
          });
      return { application, issued };
    });
    const application = {
      id: acquired.application.id,
      serviceSlug: slug,
      status: acquired.application.status,
      createdAt: acquired.application.createdAt,
    };
    if (acquired.issued === undefined) return reply.send({ application, credential: null });
    return reply.code(201).send({ application, credential: credentialView(acquired.issued.credential), token: acquired.issued.token });
  });
}
