/**
 * Events per key over a sliding window, with SlidingWindowCounter's contract (how long
 * until a key is back under its limit), asynchronous so that it can live in Redis: the
 * login, registration and redeem throttles count globally across replicas with REDIS_URL
 * (RedisWindowCounter), and in this process without (MemoryWindowCounter).
 *
 * `take` is the atomic form the throttles want: count-then-check-then-record in one step,
 * so parallel attempts cannot all pass a check made before any of them was recorded.
 */
import { SlidingWindowCounter } from './sliding-window-counter.js';

export interface WindowCounter {
  /** Milliseconds until `key` has fewer than `max` events in the window; 0 when it has already. */
  waitMs(key: string, max: number): Promise<number>;
  /** Counts one event for `key`. */
  record(key: string): Promise<void>;
  /**
   * Atomically: when `key` has fewer than `max` events, counts one and resolves 0; otherwise
   * counts nothing and resolves the milliseconds until it would fit (at least 1).
   */
  take(key: string, max: number): Promise<number>;
  /** Drops every event of `key` (a successful login clears its failures). */
  forget(key: string): Promise<void>;
}

/** The in-process counter: SlidingWindowCounter behind the asynchronous contract. */
export class MemoryWindowCounter implements WindowCounter {
  readonly #counter: SlidingWindowCounter;
  readonly #now: () => number;

  constructor(windowMs: number, now: () => number = Date.now) {
    this.#counter = new SlidingWindowCounter(windowMs);
    this.#now = now;
  }

  waitMs(key: string, max: number): Promise<number> {
    return Promise.resolve(this.#counter.waitMs(key, max, this.#now()));
  }

  record(key: string): Promise<void> {
    this.#counter.record(key, this.#now());
    return Promise.resolve();
  }

  take(key: string, max: number): Promise<number> {
    return Promise.resolve(this.#counter.take(key, max, this.#now()));
  }

  forget(key: string): Promise<void> {
    this.#counter.forget(key);
    return Promise.resolve();
  }
}
