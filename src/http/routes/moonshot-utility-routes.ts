/**
 * Two of Moonshot's utility endpoints, in Moonshot's shapes, so Moonshot-native clients work
 * unchanged (issue 18; README, docs/billing.md "Balance endpoint"):
 * - POST /v1/tokenizers/estimate-token-count: the body of a chat request (model, messages,
 *   tools), answered `{"data": {"total_tokens": N}}` with the gateway's own counter, the
 *   number a chat request with that body would hold for. Nothing is held, billed or sent
 *   upstream.
 * - GET /v1/users/me/balance: the caller's own quota and balance,
 *   `{"code": 0, "data": {available_balance, voucher_balance, cash_balance}, "scode": "0x0",
 *   "status": true}`, in the operator's currency.
 * Both also answer under /kimi/, beside the chat route's two paths.
 *
 * Checks as on the chat route (docs/security.md, "Order of checks"): the onRequest hook
 * authenticates the Bearer credential and takes the rate and concurrency permit before the
 * body is read; the body limits are the app's; bad bodies are 4xx in the error envelope.
 * Counting is linear in the body and the body is capped (tokens/count-tokens.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { readCallerBalance } from '../../billing/caller-balance.js';
import { parseChatRequest, type ModelLookup } from '../../contract/index.js';
import { resolveModel, type ChatGateway } from '../../gateway/chat-gateway.js';
import { callerPasses } from './caller-passes.js';
import type { Database } from '../../store/database.js';
import { countPromptTokens } from '../../tokens/count-tokens.js';

export const ESTIMATE_TOKEN_COUNT_PATHS = ['/kimi/tokenizers/estimate-token-count', '/v1/tokenizers/estimate-token-count'] as const;
export const BALANCE_PATHS = ['/kimi/users/me/balance', '/v1/users/me/balance'] as const;

const MICRO_UNITS_PER_UNIT = 1_000_000;

/** The body of a chat request, counted as the chat route would count its prompt; the model as the chat route resolves it. */
export async function estimateTokenCount(body: unknown, models: ModelLookup): Promise<number> {
  const asked = parseChatRequest(body);
  await resolveModel(models, asked.model);
  return countPromptTokens(asked.messages, asked.tools);
}

export function registerMoonshotUtilityRoutes(
  app: FastifyInstance,
  gateway: ChatGateway,
  models: ModelLookup,
  balances?: { db: Kysely<Database> },
): void {
  const { admitCaller, passOf } = callerPasses(gateway, 'a utility route');

  for (const path of ESTIMATE_TOKEN_COUNT_PATHS) {
    app.post(path, { onRequest: admitCaller }, async (request) => {
      passOf(request);
      return { data: { total_tokens: await estimateTokenCount(request.body, models) } };
    });
  }

  if (balances === undefined) return;
  const { db } = balances;
  for (const path of BALANCE_PATHS) {
    app.get(path, { onRequest: admitCaller }, async (request) => {
      const balance = await readCallerBalance(db, passOf(request).caller);
      return {
        code: 0,
        data: {
          available_balance: balance.available / MICRO_UNITS_PER_UNIT,
          voucher_balance: balance.quota / MICRO_UNITS_PER_UNIT,
          cash_balance: balance.balance / MICRO_UNITS_PER_UNIT,
        },
        scode: '0x0',
        status: true,
      };
    });
  }
}
