/**
 * One channel's circuit breaker. Closed: requests flow and consecutive failures are
 * counted; `failures` in a row open it. Open: the channel is skipped for `cooldownMs`.
 * Half-open: after the cool-down one trial request is let through; its success closes
 * the breaker, its failure opens it for another cool-down.
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerSettings {
  failures: number;
  cooldownMs: number;
}

export class CircuitBreaker {
  private consecutiveFailures = 0;
  private openedAt = 0;
  private opened = false;
  private trialRunning = false;

  constructor(
    private readonly settings: BreakerSettings,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): BreakerState {
    if (!this.opened) return 'closed';
    return this.now() - this.openedAt >= this.settings.cooldownMs ? 'half-open' : 'open';
  }

  /** Whether a request may be sent now (in half-open, only one trial at a time). */
  canPass(): boolean {
    const state = this.state;
    return state === 'closed' || (state === 'half-open' && !this.trialRunning);
  }

  /** Called when an attempt is sent; in half-open it is the trial. */
  begin(): void {
    if (this.state === 'half-open') this.trialRunning = true;
  }

  success(): void {
    this.consecutiveFailures = 0;
    this.opened = false;
    this.trialRunning = false;
  }

  failure(): void {
    this.consecutiveFailures++;
    const wasTrial = this.trialRunning;
    this.trialRunning = false;
    if (wasTrial || this.consecutiveFailures >= this.settings.failures) {
      this.opened = true;
      this.openedAt = this.now();
    }
  }

  /** An attempt that ended neither way (the client left): frees the trial slot. */
  release(): void {
    this.trialRunning = false;
  }
}
