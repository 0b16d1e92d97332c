/**
 * Billing for one server process: prices seeded, orphaned holds released, the usage log
 * pruned, and the admitter the gateway uses. close() commits pending settlements and
 * gives back this process's holds.
 */
import type { Store } from '../store/open-store.js';
import { setSummaryCurrency } from './account-queries.js';
import { BillingAdmitter } from './billing-admitter.js';
import { HoldLedger } from './hold-ledger.js';
import { PriceBook, seedPrices } from './price-store.js';
import { SettlementBatcher, type SettlementBatcherOptions } from './settlement-batcher.js';
import { UsagePruner } from './usage-pruner.js';

export interface BillingSettings {
  retentionDays: number;
  currency?: string;
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
  const settlements = new SettlementBatcher(store.db, holds.recordsHolds, settings.settlement);
  try {
    await pruner.start();
  } catch (error) {
    await holds.close();
    throw error;
  }
  const prices = new PriceBook(store.db);
  const admitter = new BillingAdmitter({ prices, holds, settlements });
  return {
    admitter,
    holds,
    prices,
    releasedAtStart,
    close: async () => {
      pruner.stop();
      await settlements.flush();
      await holds.close();
    },
  };
}
