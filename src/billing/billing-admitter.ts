/**
 * The gateway's Admitter with billing: the hold of the request's worst case (the rate and
 * concurrency limits were taken before its body was read, ChatGateway.admitCaller); settle() prices what the client received, writes the
 * usage row and replaces the hold with the cost, in one group-committed transaction
 * (docs/billing.md).
 */
import { MoongateError } from '../contract/errors.js';
import type { Admitter, HoldRequest, QuotaHold, RequestResult } from '../gateway/pipeline.js';
import type { HoldLedger } from './hold-ledger.js';
import { costOf, worstCaseCost } from './price-list.js';
import type { PriceBook } from './price-store.js';
import type { SettlementBatcher } from './settlement-batcher.js';

export interface BillingAdmitterParts {
  prices: PriceBook;
  holds: HoldLedger;
  settlements: SettlementBatcher;
  now?: () => number;
}

export class BillingAdmitter implements Admitter {
  readonly #parts: BillingAdmitterParts;
  readonly #now: () => number;
  /** This process's holds still open, for the metrics (the database has everyone's). */
  #openCount = 0;
  #openAmount = 0;

  constructor(parts: BillingAdmitterParts) {
    this.#parts = parts;
    this.#now = parts.now ?? Date.now;
  }

  /** Holds this process has open right now (count, and their sum in micro-units). */
  openHolds(): { count: number; amount: number } {
    return { count: this.#openCount, amount: this.#openAmount };
  }

  async admit(ticket: HoldRequest): Promise<QuotaHold> {
    const { caller, model, request, traceId } = ticket;
    // The row's time is the moment the limits counted the request (admitCaller), not of settlement.
    const createdAt = ticket.admittedAt ?? this.#now();
    const price = await this.#parts.prices.get(model.id);
    if (price === undefined) {
      throw new MoongateError('api_error', undefined, { cause: new Error(`no price for ${model.id}`) });
    }
    const worstCase = worstCaseCost(price, ticket.promptTokens, request.max_tokens, request.n);
    let walletId: string | null;
    try {
      const owner = { personId: caller.personId, applicationId: caller.applicationId };
      walletId = await this.#parts.holds.hold(traceId, owner, worstCase);
      // Refused while a settlement let go before its commit still holds its worst case: once
      // it has committed (its cost charged, the rest given back) the balance may cover this one.
      const landing = walletId === null ? this.#parts.settlements.landing() : null;
      if (landing !== null) {
        await landing;
        walletId = await this.#parts.holds.hold(traceId, owner, worstCase);
      }
    } catch (error) {
      // The store failed to answer; on PostgreSQL the hold may still have been taken (its
      // answer lost on the way back), and the request is refused: give it back once the
      // store is reachable, so it cannot leak.
      if (this.#parts.holds.recordsHolds) this.#parts.settlements.releaseUncertainHold(traceId);
      throw error;
    }
    if (walletId === null) throw new MoongateError('used_up');
    this.#openCount++;
    this.#openAmount += worstCase;
    return {
      settle: async (result: RequestResult) => {
        try {
          // Never more than was held: the hold is what the person was shown to afford.
          const tokens = result.usage === null ? NO_TOKENS : tokensOf(result.usage);
          const cost = result.usage === null ? 0 : Math.min(worstCase, costOf(price, tokens));
          await this.#parts.settlements.settle({ walletId, held: worstCase, usage: usageRow(ticket, result, createdAt, walletId, tokens, cost) });
        } finally {
          this.#openCount--;
          this.#openAmount -= worstCase;
        }
      },
    };
  }
}

function tokensOf(usage: NonNullable<RequestResult['usage']>) {
  return {
    promptTokens: usage.prompt_tokens,
    cachedTokens: usage.prompt_tokens_details.cached_tokens ?? 0,
    cacheWriteTokens: usage.prompt_tokens_details.cache_write_tokens ?? 0,
    completionTokens: usage.completion_tokens,
  };
}

const NO_TOKENS = { promptTokens: 0, cachedTokens: 0, cacheWriteTokens: 0, completionTokens: 0 };

function usageRow(
  ticket: HoldRequest,
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
    cache_write_tokens: tokens.cacheWriteTokens,
    completion_tokens: tokens.completionTokens,
    cost,
    duration_ms: Math.round(result.durationMs),
    ttft_ms: result.ttftMs === null ? null : Math.round(result.ttftMs),
    channel: result.channel,
  };
}
