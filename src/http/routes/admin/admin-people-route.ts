/**
 * The operator's people (admin only; docs/console-api.md, "The operator's area"):
 * - GET /api/admin/people?query&limit&before: newest first, with balances, live credentials
 *   and the last 30 days' requests and cost;
 * - PATCH /api/admin/people/:id {status?, role?, credentials?, rps?, concurrency?}: the
 *   person's limits (null: the default; docs/security.md, "Per-person limits") apply to
 *   their next request and next new credential; disabling ends the person's sessions (and
 *   with them their playground tokens); an admin cannot disable or demote themself, and
 *   nobody can disable or demote the last active admin (accounts/operator-roles.ts);
 * - POST /api/admin/people/:id/balance {amount}: credits (or, negative, debits) the person's
 *   global balance in micro-units, like `moongate balance add`.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { changePersonStanding } from '../../../accounts/operator-roles.js';
import { listPeopleOverview } from '../../../accounts/people-overview.js';
import { PersonStore } from '../../../accounts/person-store.js';
import { getBalanceSummary } from '../../../billing/usage-summaries.js';
import { addBalance } from '../../../billing/wallet-store.js';
import { MoongateError } from '../../../contract/errors.js';
import type { AccountContext } from '../console-api/account-context.js';
import { sessionOf } from '../console-api/console-guard.js';
import { parseInput } from '../console-api/parse-input.js';
import { announceChange } from '../console-api/announce-change.js';

const ADMIN = { config: { access: 'admin' as const } };
const MAX_PAGE = 200;

const listQuery = z.object({
  query: z.string().max(254).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(50),
  before: z.string().min(1).max(200).optional(),
});
const idParams = z.object({ id: z.string().min(1).max(100) });
const limit = z.number().int().min(1).max(1_000_000).nullable().optional();
const patchBody = z
  .object({
    status: z.enum(['active', 'disabled']).optional(),
    role: z.enum(['admin', 'user']).optional(),
    // Per-person limits (null: the default): credentials held, requests per second and at once across them.
    credentials: limit,
    rps: limit,
    concurrency: limit,
  })
  .refine((body) => Object.values(body).some((value) => value !== undefined), { message: 'give status, role, credentials, rps or concurrency' });
const balanceBody = z.object({
  amount: z
    .number()
    .int()
    .refine((amount) => Number.isSafeInteger(amount) && amount !== 0, { message: 'a whole, non-zero number of micro-units' }),
});

export function registerAdminPeopleRoute(api: FastifyInstance, context: AccountContext): void {
  const people = new PersonStore(context.store.db);
  const findPerson = async (id: string) => {
    const found = await context.store.db.selectFrom('people').select('id').where('id', '=', id).executeTakeFirst();
    if (found === undefined) throw new MoongateError('no_api', `No person ${id}`);
    return people.getPerson(id);
  };

  api.get('/admin/people', ADMIN, async (request) => {
    const query = parseInput(listQuery, request.query, 'query');
    return { ...(await listPeopleOverview(context.store.db, query)), defaults: context.personLimits };
  });

  api.patch('/admin/people/:id', ADMIN, async (request) => {
    const { id } = parseInput(idParams, request.params, 'params');
    const body = parseInput(patchBody, request.body, 'body');
    const { person: admin } = sessionOf(request);
    if (id === admin.id && (body.status === 'disabled' || body.role === 'user')) {
      throw new MoongateError('bad_request', 'an admin cannot disable or demote themself; ask another admin');
    }
    await findPerson(id);
    try {
      await changePersonStanding(context.store.db, context.store.dialect, id, { role: body.role, status: body.status });
      await people.setPersonLimits(id, { credentials: body.credentials, rps: body.rps, concurrency: body.concurrency });
      if (body.status === 'disabled') await context.sessions.revokePersonSessions(id);
    } finally {
      // Even a change refused halfway (its first step landed): an extra drop costs one query.
      await announceChange(context, request, { kind: 'person', id });
    }
    return { person: { ...(await people.getPerson(id)), limits: await people.getPersonLimits(id) } };
  });

  api.post('/admin/people/:id/balance', ADMIN, async (request) => {
    const { id } = parseInput(idParams, request.params, 'params');
    const { amount } = parseInput(balanceBody, request.body, 'body');
    await findPerson(id);
    await addBalance(context.store.db, id, amount);
    return { personId: id, ...(await getBalanceSummary(context.store.db, id, context.currency)) };
  });
}
