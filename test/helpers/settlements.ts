/** A settlement as the gateway hands it to the batcher, for tests that settle by hand. */
import type { Settlement } from '../../src/billing/settlement-batcher.js';

export interface SettlingCaller {
  personId: string;
  credentialId: string;
}

/** A completed request of `caller` (9 prompt and 10 completion tokens) charged `cost`, that held `held`, on the person's balance. */
export function settlementOf(traceId: string, caller: SettlingCaller, cost: number, held: number): Settlement {
  return {
    walletId: caller.personId,
    held,
    usage: {
      trace_id: traceId,
      created_at: 1_700_000_000_000,
      person_id: caller.personId,
      credential_id: caller.credentialId,
      service_id: 'svc_kimi',
      wallet_id: caller.personId,
      model: 'kimi-k2.5',
      stream: 'false',
      status: 'completed',
      error_code: null,
      prompt_tokens: 9,
      cached_tokens: 0,
      cache_write_tokens: 0,
      completion_tokens: 10,
      cost,
      duration_ms: 5,
      ttft_ms: 1,
      channel: 'simulator',
    },
  };
}
