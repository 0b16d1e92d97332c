/**
 * The operator's view of every credential (admin only):
 * - GET /api/admin/credentials?person&limit&before: newest first, with the owner's email,
 *   never a token;
 * - PATCH /api/admin/credentials/:id {status?, rps?, concurrency?}: disables or re-enables
 *   it (a revoked one stays revoked: 400) and sets its limits (null: the default).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { MoongateError } from '../../../contract/errors.js';
import type { AccountContext } from '../console-api/account-context.js';
import { credentialView } from '../console-api/credential-view.js';
import { parseInput } from '../console-api/parse-input.js';
import { announceChange } from '../console-api/announce-change.js';

const ADMIN = { config: { access: 'admin' as const } };

const listQuery = z.object({
  person: z.string().min(1).max(100).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  before: z.string().min(1).max(200).optional(),
});
const idParams = z.object({ id: z.string().min(1).max(100) });
const limit = z.number().int().min(1).max(1_000_000).nullable().optional();
const patchBody = z
  .object({ status: z.enum(['active', 'disabled']).optional(), rps: limit, concurrency: limit })
  .refine((body) => body.status !== undefined || body.rps !== undefined || body.concurrency !== undefined, {
    message: 'give status, rps or concurrency',
  });

export function registerAdminCredentialsRoute(api: FastifyInstance, context: AccountContext): void {
  api.get('/admin/credentials', ADMIN, async (request) => {
    const query = parseInput(listQuery, request.query, 'query');
    const page = await context.credentials.listAllCredentials({ personId: query.person, limit: query.limit, before: query.before });
    return { credentials: page.credentials.map((c) => ({ ...credentialView(c), ownerEmail: c.ownerEmail })), next: page.next };
  });

  api.patch('/admin/credentials/:id', ADMIN, async (request) => {
    const { id } = parseInput(idParams, request.params, 'params');
    const body = parseInput(patchBody, request.body, 'body');
    const existing = await context.credentials.findCredential(id);
    if (existing === undefined) throw new MoongateError('no_api', `No credential ${id}`);
    // setCredentialStatus refuses a revoked credential before any limit changes.
    if (body.status !== undefined) await context.credentials.setCredentialStatus(id, body.status);
    else if (existing.status === 'revoked') throw new MoongateError('bad_request', `credential ${id} is revoked and cannot be changed`);
    let changed;
    try {
      changed = await context.credentials.setCredentialLimits(id, { rpsLimit: body.rps, concurrencyLimit: body.concurrency });
    } finally {
      // The status may have changed even if the limits did not land.
      await announceChange(context, request, { kind: 'credential', id });
    }
    return { credential: credentialView(changed) };
  });
}
