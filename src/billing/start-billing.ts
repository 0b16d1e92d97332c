/**
 * Billing for one server process: prices seeded, orphaned holds released, the spool of
 * unsettled settlements replayed, the usage log pruned, and the admitter the gateway uses.
 * close() commits pending settlements and gives back this process's holds.
 */
import type { Store } from '../store/open-store.js';
import { BillingAdmitter } from './billing-admitter.js';
import { HoldLedger, type HoldLedgerTrouble } from './hold-ledger.js';
import { PriceBook, seedPrices } from './price-store.js';
import { SettlementBatcher, type SettlementBatcherOptions, type SettlementTrouble } from './settlement-batcher.js';
import { SettlementJournal } from './settlement-journal.js';
import { SettlementSpool } from './settlement-spool.js';
import { UsagePruner } from './usage-pruner.js';

export interface BillingSettings {
  retentionDays: number;
  settlement?: Omit<SettlementBatcherOptions, 'spool' | 'journal' | 'onTrouble'>;
  /**
   * The local file settlements the store refused are kept in (docs/billing.md); none: memory
   * only. On SQLite the settlement journal is beside it (`<spoolPath>.journal`).
   */
  spoolPath?: string;
  /** Told when settlements are deferred or a retry fails (a warning: nothing is lost). */
  onSettlementTrouble?: (trouble: SettlementTrouble) => void;
  /** PostgreSQL: how long a silent instance still owns its holds (HoldLedger's lease; 60 s by default). */
  instanceLeaseMs?: number;
  /**
   * PostgreSQL: told when this instance finds it was swept as dead (an error: holds it had were
   * given back under running requests). Absent: passed to `onError` with its `error`.
   */
  onHoldsTrouble?: (trouble: HoldLedgerTrouble) => void;
}

export interface RunningBilling {
  admitter: BillingAdmitter;
  holds: HoldLedger;
  /** The prices admission reads (cached); invalidate() after changing one in this process. */
  prices: PriceBook;
  /** Holds of crashed processes given back at start-up. */
  releasedAtStart: number;
  /** What the spool of a previous process held at start-up, and how much of it landed then. */
  replayedAtStart: { found: number; landed: number; unreadable: number };
  /** Settlements waiting for the store, and failed attempts to commit, for metrics and /readyz. */
  settlements: Pick<SettlementBatcher, 'pending' | 'failures' | 'landing'>;
  close(): Promise<void>;
}

export async function startBilling(
  store: Pick<Store, 'db' | 'sqlite'>,
  settings: BillingSettings,
  onError: (error: unknown) => void,
): Promise<RunningBilling> {
  await seedPrices(store.db);
  const holds = new HoldLedger(store, {
    ...(settings.instanceLeaseMs === undefined ? {} : { leaseMs: settings.instanceLeaseMs }),
    // Loud either way: the server's error log, its own line once it passes onHoldsTrouble.
    onTrouble: settings.onHoldsTrouble ?? ((trouble) => onError(trouble.error)),
  });
  const releasedAtStart = await holds.start();
  const pruner = new UsagePruner(store.db, settings.retentionDays, onError);
  const settlements = new SettlementBatcher(store, holds, {
    ...settings.settlement,
    ...(settings.spoolPath === undefined
      ? {}
      : {
          spool: new SettlementSpool(settings.spoolPath),
          // Only SQLite's commits are journaled (the batcher takes a journal nowhere else).
          ...(store.sqlite === null ? {} : { journal: new SettlementJournal(`${settings.spoolPath}.journal`) }),
        }),
    ...(settings.onSettlementTrouble === undefined ? {} : { onTrouble: settings.onSettlementTrouble }),
  });
  let replayedAtStart: RunningBilling['replayedAtStart'];
  try {
    // After the holds were released (above), before any traffic: what a stopped process could
    // not settle is settled now (or stays spooled, retried).
    replayedAtStart = await settlements.replaySpool();
    await pruner.start();
  } catch (error) {
    await settlements.close().catch(() => undefined);
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
    replayedAtStart,
    settlements,
    close: async () => {
      pruner.stop();
      // Commits what is queued; what the store still refuses stays in the spool for the next start.
      await settlements.close();
      await holds.close();
    },
  };
}
