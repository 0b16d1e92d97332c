/**
 * The in-memory RequestLimiter of one process. Requests per second use a sliding-window
 * log: the admission times of the last second are kept, so no one-second window, wherever
 * it starts, ever admits more than the limit (a token bucket would let a full bucket plus
 * its refill through in the first second). Memory is bounded by the limit per key.
 *
 * A request takes its credential's place and, when given, its person's: both are checked
 * before either is taken, in one synchronous step, so a refusal takes nothing.
 */
import type { LimitDecision, LimitEntry, Permit, RequestLimiter, RequestLimits, SharedLimit } from './request-limiter.js';
import { TimeRing } from './time-ring.js';

const WINDOW_MS = 1_000;

interface KeyState {
  running: number;
  /** Admission times (ms) of the current window, oldest first. */
  admitted: TimeRing;
}

type Refusal = Extract<LimitDecision, { admitted: false }>;

export class MemoryRequestLimiter implements RequestLimiter {
  readonly #states = new Map<string, KeyState>();
  readonly #sweeper: NodeJS.Timeout;

  constructor(private readonly now: () => number = () => performance.now()) {
    // Forget idle keys now and then, so the map holds only recent callers.
    this.#sweeper = setInterval(() => this.#sweep(), 60_000);
    this.#sweeper.unref();
  }

  acquire(key: string, limits: RequestLimits, shared?: SharedLimit): Promise<LimitDecision> {
    const entries: LimitEntry[] = [{ key, limits }];
    // Person keys live in their own namespace, whatever the ids look like.
    if (shared !== undefined) entries.push({ key: `person:${shared.key}`, limits: shared.limits });
    return Promise.resolve(this.acquireAll(entries));
  }

  /**
   * Every entry's place or none, in one synchronous step: all are checked before any is
   * taken, and the first refusal names its limit (the first entry's scope is the
   * credential, any other the person). The Redis limiter falls back to this while degraded.
   */
  acquireAll(entries: readonly LimitEntry[]): LimitDecision {
    const now = this.now();
    const held: KeyState[] = [];
    for (let index = 0; index < entries.length; index++) {
      const entry = entries[index] as LimitEntry;
      const state = this.#state(entry.key, now);
      const refusal = refuse(state, entry.limits, now, index === 0 ? 'credential' : 'person');
      if (refusal !== undefined) return refusal;
      held.push(state);
    }
    for (const state of held) {
      state.admitted.push(now);
      state.running += 1;
    }
    let released = false;
    const permit: Permit = {
      release: () => {
        if (released) return;
        released = true;
        for (const state of held) state.running -= 1;
      },
    };
    return { admitted: true, permit };
  }

  close(): void {
    clearInterval(this.#sweeper);
    this.#states.clear();
  }

  /** The key's state with admissions older than the window dropped. */
  #state(key: string, now: number): KeyState {
    let state = this.#states.get(key);
    if (state === undefined) {
      state = { running: 0, admitted: new TimeRing() };
      this.#states.set(key, state);
    }
    state.admitted.dropThrough(now - WINDOW_MS);
    return state;
  }

  #sweep(): void {
    const cutoff = this.now() - WINDOW_MS;
    for (const [key, state] of this.#states) {
      if (state.running === 0 && (state.admitted.last() ?? -Infinity) <= cutoff) this.#states.delete(key);
    }
  }
}

function refuse(state: KeyState, limits: RequestLimits, now: number, scope: Refusal['scope']): Refusal | undefined {
  if (state.running >= limits.concurrency) {
    // No way to know when a running request ends; a second is the honest lower bound.
    return { admitted: false, limit: 'concurrency', scope, retryAfter: 1 };
  }
  const admitted = state.admitted;
  if (admitted.length >= limits.rps) {
    // The window frees a slot when its oldest admission (of those over the limit) leaves it.
    const oldest = admitted.at(admitted.length - limits.rps) ?? now;
    const retryAfter = Math.max(1, Math.ceil((oldest + WINDOW_MS - now) / 1000));
    return { admitted: false, limit: 'rps', scope, retryAfter };
  }
  return undefined;
}
