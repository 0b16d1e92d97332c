/**
 * The in-memory RequestLimiter of one process. Requests per second use a sliding-window
 * log: the admission times of the last second are kept, so no one-second window, wherever
 * it starts, ever admits more than the limit (a token bucket would let a full bucket plus
 * its refill through in the first second). Memory is bounded by the limit per credential.
 */
import type { LimitDecision, Permit, RequestLimiter, RequestLimits } from './request-limiter.js';

const WINDOW_MS = 1_000;

interface CredentialState {
  running: number;
  /** Admission times (ms) of the current window, oldest first. */
  admitted: number[];
}

export class MemoryRequestLimiter implements RequestLimiter {
  readonly #states = new Map<string, CredentialState>();
  readonly #sweeper: NodeJS.Timeout;

  constructor(private readonly now: () => number = () => performance.now()) {
    // Forget idle credentials now and then, so the map holds only recent callers.
    this.#sweeper = setInterval(() => this.#sweep(), 60_000);
    this.#sweeper.unref();
  }

  acquire(key: string, limits: RequestLimits): Promise<LimitDecision> {
    const now = this.now();
    let state = this.#states.get(key);
    if (state === undefined) {
      state = { running: 0, admitted: [] };
      this.#states.set(key, state);
    }
    const admitted = state.admitted;
    while (admitted.length > 0 && (admitted[0] ?? 0) <= now - WINDOW_MS) admitted.shift();
    if (state.running >= limits.concurrency) {
      // No way to know when a running request ends; a second is the honest lower bound.
      return Promise.resolve({ admitted: false, limit: 'concurrency', retryAfter: 1 });
    }
    if (admitted.length >= limits.rps) {
      // The window frees a slot when its oldest admission (of those over the limit) leaves it.
      const oldest = admitted[admitted.length - limits.rps] ?? now;
      const retryAfter = Math.max(1, Math.ceil((oldest + WINDOW_MS - now) / 1000));
      return Promise.resolve({ admitted: false, limit: 'rps', retryAfter });
    }
    admitted.push(now);
    state.running += 1;
    const held = state;
    let released = false;
    const permit: Permit = {
      release: () => {
        if (released) return;
        released = true;
        held.running -= 1;
      },
    };
    return Promise.resolve({ admitted: true, permit });
  }

  close(): void {
    clearInterval(this.#sweeper);
    this.#states.clear();
  }

  #sweep(): void {
    const cutoff = this.now() - WINDOW_MS;
    for (const [key, state] of this.#states) {
      if (state.running === 0 && (state.admitted.at(-1) ?? -Infinity) <= cutoff) this.#states.delete(key);
    }
  }
}
