/**
 * Billing for one server process: prices seeded, orphaned holds released, the usage log
 * pruned, and the admitter the gateway uses. close() commits pending settlements and
 * gives back this process's holds.
 */
import type { Store } from '../store/open-store.js';
import { MemoryRequestLimiter } from '../limits/memory-request-limiter.js';
import type { RequestLimits } from '../limits/request-limiter.js';
import { setSummaryCurrency } from './account-queries.js';
import { BillingAdmitter } from './billing-admitter.js';
import { HoldLedger } from './hold-ledger.js';
import { PriceBook, seedPrices } from './price-store.js';
import { SettlementBatcher, type SettlementBatcherOptions } from './settlement-batcher.js';
import { UsagePruner } from './usage-pruner.js';

export interface BillingSettings {
  retentionDays: number;
  currency?: string;
  defaultLimits?: RequestLimits;
  /** A person's limits across their credentials, where the operator set none. */
  defaultPersonLimits?: RequestLimits;
  settlement?: SettlementBatcherOptions;
}

export interface RunningBilling {
  admitter: BillingAdmitter;
  holds: HoldLedger;
  /** The prices admission reads (cached); invalidate() after changing one in this process. */
  prices: PriceBook;
  /** Holds of crashed processes given back at start-up. */
  releasedAtStart: number;
  close(): Promise<void>;
}

export async function startBilling(
  store: Pick<Store, 'db' | 'dialect'>,
  settings: BillingSettings,
  onError: (error: unknown) => void,
): Promise<RunningBilling> {
  if (settings.currency !== undefined) setSummaryCurrency(settings.currency);
  await seedPrices(store.db);
  const holds = new HoldLedger(store.db, store.dialect);
  const releasedAtStart = await holds.start();
  const pruner = new UsagePruner(store.db, settings.retentionDays, onError);
  const limiter = new MemoryRequestLimiter();
  const settlements = new SettlementBatcher(store.db, holds.recordsHolds, settings.settlement);
  try {
    await pruner.start();
  } catch (error) {
    await holds.close();
    limiter.close();
    throw error;
  }
  const prices = new PriceBook(store.db);
  const admitter = new BillingAdmitter({
    limiter,
    prices,
    holds,
    settlements,
    ...(settings.defaultLimits === undefined ? {} : { defaultLimits: settings.defaultLimits }),
    ...(settings.defaultPersonLimits === undefined ? {} : { defaultPersonLimits: settings.defaultPersonLimits }),
  });
  return {
    admitter,
    holds,
    prices,
    releasedAtStart,
    close: async () => {
      pruner.stop();
      limiter.close();
      await settlements.flush();
      await holds.close();
    },
  };
}
