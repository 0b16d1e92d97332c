/**
 * An Admitter that lets everything through and records every settlement, so tests can
 * prove each admitted request settled exactly once, with the usage it should be billed.
 * (The real quota hold is billing's; the lead adds that assertion once both are merged.)
 */
import type { Admitter, HoldRequest, QuotaHold, RequestResult } from '../../src/gateway/pipeline.js';

export interface Settlement {
  traceId: string;
  result: RequestResult;
}

export class RecordingAdmitter implements Admitter {
  admitted = 0;
  readonly settlements: Settlement[] = [];
  private readonly waiters: Array<() => void> = [];

  admit(ticket: HoldRequest): Promise<QuotaHold> {
    this.admitted++;
    return Promise.resolve({
      settle: (result: RequestResult) => {
        this.settlements.push({ traceId: ticket.traceId, result });
        for (const resolve of this.waiters.splice(0)) resolve();
        return Promise.resolve();
      },
    });
  }

  /** Admitted requests not settled yet: a leaked hold, once everything is over. */
  get open(): number {
    return this.admitted - this.settlements.length;
  }

  /** Resolves once `count` settlements have been recorded: it waits on them, never on a clock. */
  async settled(count: number): Promise<Settlement[]> {
    while (this.settlements.length < count) await new Promise<void>((resolve) => this.waiters.push(resolve));
    return this.settlements;
  }
}
