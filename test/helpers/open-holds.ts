import type { RunningServer } from '../../src/server.js';

/**
 * What the server holds for its running requests right now, in micro-units, as /metrics
 * reports it. On SQLite holds live in the server's memory (billing/memory-holds.ts) and the
 * wallets' `held` column is only written with settlements, so this is where they are seen.
 */
export async function openHoldsAmount(server: RunningServer): Promise<number> {
  const metric = await server.metrics.registry.getSingleMetric('moongate_holds_amount_micros')?.get();
  return metric?.values[0]?.value ?? 0;
}
