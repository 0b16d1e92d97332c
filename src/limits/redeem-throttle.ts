/**
 * Failed top-up code redemptions, counted per person over a sliding window: past `max`
 * failures, redemptions are 429 too_many_requests with `retry-after` until the oldest
 * failure leaves the window, even for a valid code. 80 random bits cannot be guessed at 10
 * tries per 15 minutes; the limit keeps a script from trying.
 *
 * The count lives in this process, or, with REDIS_URL, in Redis (a RedisWindowCounter), so
 * that every replica sees the same failures. While Redis is unreachable this process counts
 * alone (never unlimited) until it answers again.
 */
import { MoongateError } from '../contract/errors.js';
import { MemoryWindowCounter, type WindowCounter } from './window-counter.js';

export interface RedeemThrottleOptions {
  windowMs: number;
  max: number;
}

export const DEFAULT_REDEEM_THROTTLE: Readonly<RedeemThrottleOptions> = Object.freeze({ windowMs: 15 * 60_000, max: 10 });

export class RedeemThrottle {
  readonly #options: RedeemThrottleOptions;
  readonly #local: WindowCounter;
  readonly #shared: WindowCounter | undefined;

  /** `shared`: the replicas' common counter (Redis); without it, this process's. */
  constructor(options: RedeemThrottleOptions = DEFAULT_REDEEM_THROTTLE, shared?: WindowCounter, now?: () => number) {
    this.#options = options;
    this.#local = new MemoryWindowCounter(options.windowMs, now);
    this.#shared = shared;
  }

  /** Rejects with 429 when the person has used up their failures. */
  async check(personId: string): Promise<void> {
    const wait = await this.#counted((counter) => counter.waitMs(personId, this.#options.max));
    if (wait > 0) {
      throw new MoongateError('too_many_requests', 'Too many codes were not valid. Try again later.', { retryAfter: Math.ceil(wait / 1000) });
    }
  }

  async recordFailure(personId: string): Promise<void> {
    await this.#counted((counter) => counter.record(personId));
  }

  /** On the shared counter; on this process's when Redis cannot be reached. */
  async #counted<T>(work: (counter: WindowCounter) => Promise<T>): Promise<T> {
    if (this.#shared === undefined) return work(this.#local);
    try {
      return await work(this.#shared);
    } catch {
      return work(this.#local);
    }
  }
}
