/**
 * POST /api/services/:slug/acquire: SPEC.md's "Acquire". Makes the person's application
 * for the service (ensureApplication, which also grants a first application its free
 * quota) and, if the application has no credential yet, issues its first one. The token
 * is in this response only (201); acquiring again returns the application with
 * `credential: null` and no token (200). The database decides who issues the first
 * credential (ApplicationStore.claimFirstCredential), so a double click issues one, even
 * when the two clicks reach two replicas.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { IssuedCredential } from '../../../accounts/credential-store.js';
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

    const acquired = await context.applications.ensureApplication(person.id, slug);
    let issued: IssuedCredential | undefined;
    if (await context.applications.claimFirstCredential(acquired.id)) {
      try {
        issued = await context.credentials.issueCredential({
          personId: person.id,
          serviceSlug: slug,
          credentialsLimit: { defaultLimit: context.personLimits.credentials },
        });
      } catch (error) {
        await context.applications.releaseFirstCredentialClaim(acquired.id);
        throw error;
      }
    }
    const application = { id: acquired.id, serviceSlug: slug, status: acquired.status, createdAt: acquired.createdAt };
    if (issued === undefined) return reply.send({ application, credential: null });
    return reply.code(201).send({ application, credential: credentialView(issued.credential), token: issued.token });
  });
}
