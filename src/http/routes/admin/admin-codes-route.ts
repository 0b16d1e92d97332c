/**
 * Top-up codes in the operator's console (admin only; docs/billing.md, "Top-up codes"):
 * - POST /api/admin/codes {amount, count, expiresInDays?}: makes them; their text is in
 *   this response only (201);
 * - GET /api/admin/codes?limit&before: newest first, status and redeemer, never the code.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { MAX_CODES_PER_BATCH } from '../../../billing/topup-code-store.js';
import type { AccountContext } from '../console-api/account-context.js';
import { sessionOf } from '../console-api/console-guard.js';
import { parseInput } from '../console-api/parse-input.js';

const ADMIN = { config: { access: 'admin' as const } };
const DAY_MS = 86_400_000;

const createBody = z.object({
  amount: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  count: z.number().int().min(1).max(MAX_CODES_PER_BATCH),
  expiresInDays: z.number().int().min(1).max(3650).nullable().optional(),
});
const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  before: z.string().min(1).max(200).optional(),
});

export function registerAdminCodesRoute(api: FastifyInstance, context: AccountContext): void {
  api.post('/admin/codes', ADMIN, async (request, reply) => {
    const body = parseInput(createBody, request.body, 'body');
    const { person } = sessionOf(request);
    const now = Date.now();
    const expiresAt = body.expiresInDays === undefined || body.expiresInDays === null ? null : now + body.expiresInDays * DAY_MS;
    const codes = await context.topupCodes.createCodes({ amount: body.amount, count: body.count, expiresAt, createdBy: person.id }, now);
    return reply.code(201).send({ codes });
  });

  api.get('/admin/codes', ADMIN, async (request) => {
    const query = parseInput(listQuery, request.query, 'query');
    return context.topupCodes.listCodes(query);
  });
}
