/**
 * The gateway's Admitter with billing: limits first (in memory, no database; the
 * credential's and its person's together), then the
 * hold of the request's worst case; settle() prices what the client received, writes the
 * usage row and replaces the hold with the cost, in one group-committed transaction
 * (docs/billing.md).
 */
import { MoongateError } from '../contract/errors.js';
import type { Admission, AdmissionTicket, Admitter, RequestResult } from '../gateway/chat-gateway.js';
import { DEFAULT_PERSON_LIMITS, DEFAULT_REQUEST_LIMITS, type RequestLimiter, type RequestLimits } from '../limits/request-limiter.js';
import type { HoldLedger } from './hold-ledger.js';
import { costOf, worstCaseCost } from './price-list.js';
import type { PriceBook } from './price-store.js';
import type { SettlementBatcher } from './settlement-batcher.js';

export interface BillingAdmitterParts {
  limiter: RequestLimiter;
  prices: PriceBook;
  holds: HoldLedger;
  settlements: SettlementBatcher;
  defaultLimits?: RequestLimits;
  /** A person's limits across their credentials where the operator set none (DEFAULT_PERSON_LIMITS when left out). */
  defaultPersonLimits?: RequestLimits;
  now?: () => number;
}

export class BillingAdmitter implements Admitter {
  readonly #parts: BillingAdmitterParts;
  readonly #defaults: RequestLimits;
  readonly #personDefaults: RequestLimits;
  readonly #now: () => number;
  /** This process's holds still open, for the metrics (the database has everyone's). */
  #open = { count: 0, amount: 0 };

  constructor(parts: BillingAdmitterParts) {
    this.#parts = parts;
    this.#defaults = parts.defaultLimits ?? DEFAULT_REQUEST_LIMITS;
    this.#personDefaults = parts.defaultPersonLimits ?? DEFAULT_PERSON_LIMITS;
    this.#now = parts.now ?? Date.now;
  }

  /** Holds this process has open right now (count, and their sum in micro-units). */
  openHolds(): { count: number; amount: number } {
    return { ...this.#open };
  }

  async admit(ticket: AdmissionTicket): Promise<Admission> {
    const { caller, model, request, traceId } = ticket;
    // The row's time is the moment of admission (what the limits counted), not of settlement.
    const createdAt = this.#now();
    const limits = {
      rps: caller.limits?.rps ?? this.#defaults.rps,
      concurrency: caller.limits?.concurrency ?? this.#defaults.concurrency,
    };
    // The person's limits are taken in the same call: a person with many credentials still
    // gets only their own share (both places, or neither).
    const personLimits = {
      rps: caller.personLimits?.rps ?? this.#personDefaults.rps,
      concurrency: caller.personLimits?.concurrency ?? this.#personDefaults.concurrency,
    };
    const decision = await this.#parts.limiter.acquire(caller.credentialId, limits, { key: caller.personId, limits: personLimits });
    if (!decision.admitted) throw new MoongateError('too_many_requests', undefined, { retryAfter: decision.retryAfter });
    const permit = decision.permit;
    try {
      const price = await this.#parts.prices.get(model.id);
      if (price === undefined) {
        throw new MoongateError('api_error', undefined, { cause: new Error(`no price for ${model.id}`) });
      }
      const worstCase = worstCaseCost(price, model, ticket.promptTokens, request.max_tokens, request.n);
      const walletId = await this.#parts.holds.hold(traceId, { personId: caller.personId, applicationId: caller.applicationId }, worstCase);
      if (walletId === null) throw new MoongateError('used_up');
      this.#open = { count: this.#open.count + 1, amount: this.#open.amount + worstCase };
      return {
        settle: async (result: RequestResult) => {
          try {
            // Never more than was held: the hold is what the person was shown to afford.
            const tokens = result.usage === null ? NO_TOKENS : tokensOf(result.usage);
            const cost = result.usage === null ? 0 : Math.min(worstCase, costOf(price, tokens));
            await this.#parts.settlements.settle({ walletId, held: worstCase, usage: usageRow(ticket, result, createdAt, walletId, tokens, cost) });
          } finally {
            this.#open = { count: this.#open.count - 1, amount: this.#open.amount - worstCase };
            permit.release();
          }
        },
      };
    } catch (error) {
      permit.release();
      throw error;
    }
  }
}

function tokensOf(usage: NonNullable<RequestResult['usage']>) {
  return {
    promptTokens: usage.prompt_tokens,
    cachedTokens: usage.prompt_tokens_details.cached_tokens ?? 0,
    completionTokens: usage.completion_tokens,
  };
}

const NO_TOKENS = { promptTokens: 0, cachedTokens: 0, completionTokens: 0 };

function usageRow(
  ticket: AdmissionTicket,
  result: RequestResult,
  createdAt: number,
  walletId: string,
  tokens: ReturnType<typeof tokensOf>,
  cost: number,
) {
  return {
    trace_id: ticket.traceId,
    created_at: createdAt,
    person_id: ticket.caller.personId,
    credential_id: ticket.caller.credentialId,
    service_id: ticket.caller.serviceId,
    wallet_id: walletId,
    model: ticket.model.id,
    stream: result.stream ? ('true' as const) : ('false' as const),
    status: result.outcome,
    error_code: result.error?.code ?? null,
    prompt_tokens: tokens.promptTokens,
    cached_tokens: tokens.cachedTokens,
    completion_tokens: tokens.completionTokens,
    cost,
    duration_ms: Math.round(result.durationMs),
    ttft_ms: result.ttftMs === null ? null : Math.round(result.ttftMs),
    channel: result.channel,
  };
}
