/**
 * Failed top-up code redemptions, counted per person in memory over a sliding window (the
 * login throttle's counter): past `max` failures, redemptions are 429 too_many_requests
 * with `retry-after` until the oldest failure leaves the window, even for a valid code. 80
 * random bits cannot be guessed at 10 tries per 15 minutes; the limit keeps a script from
 * trying. Per process, like the login throttle.
 */
import { SlidingWindowCounter } from '../accounts/sliding-window-counter.js';
import { MoongateError } from '../contract/errors.js';

export interface RedeemThrottleOptions {
  windowMs: number;
  max: number;
}

export const DEFAULT_REDEEM_THROTTLE: Readonly<RedeemThrottleOptions> = Object.freeze({ windowMs: 15 * 60_000, max: 10 });

export class RedeemThrottle {
  readonly #options: RedeemThrottleOptions;
  readonly #failures: SlidingWindowCounter;

  constructor(options: RedeemThrottleOptions = DEFAULT_REDEEM_THROTTLE) {
    this.#options = options;
    this.#failures = new SlidingWindowCounter(options.windowMs);
  }

  /** Throws 429 when the person has used up their failures. */
  check(personId: string, now: number = Date.now()): void {
    const wait = this.#failures.waitMs(personId, this.#options.max, now);
    if (wait > 0) {
      throw new MoongateError('too_many_requests', 'Too many codes were not valid. Try again later.', { retryAfter: Math.ceil(wait / 1000) });
    }
  }

  recordFailure(personId: string, now: number = Date.now()): void {
    this.#failures.record(personId, now);
  }
}
