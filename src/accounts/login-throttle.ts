/**
 * Failed-login counting, in memory: at most `maxPerEmail` failures per email and
 * `maxPerAddress` per client address in a sliding window, after which logins for that
 * email (or from that address) get 429 too_many_requests with `retry-after` until the
 * oldest failure leaves the window. The email limit stops guessing one person's password
 * from many addresses; the looser address limit stops one address from spraying many
 * emails while leaving room for people behind one NAT.
 *
 * In memory per process: behind several processes an attacker gets the limit once per
 * process, which still bounds guessing to a handful per minute. (Redis-backed limits are
 * the limits module's job.)
 */
import { MoongateError } from '../contract/errors.js';
import { SlidingWindowCounter } from './sliding-window-counter.js';

export interface LoginThrottleOptions {
  windowMs: number;
  maxPerEmail: number;
  maxPerAddress: number;
}

export const DEFAULT_LOGIN_THROTTLE: Readonly<LoginThrottleOptions> = Object.freeze({
  windowMs: 15 * 60_000,
  maxPerEmail: 5,
  maxPerAddress: 20,
});

export class LoginThrottle {
  readonly #options: LoginThrottleOptions;
  /** Failures, keyed `e:<email>` and `a:<address>`. */
  readonly #failures: SlidingWindowCounter;

  constructor(options: LoginThrottleOptions = DEFAULT_LOGIN_THROTTLE) {
    this.#options = options;
    this.#failures = new SlidingWindowCounter(options.windowMs);
  }

  /** Throws 429 when the email or the address has used up its failures. */
  check(email: string, address: string, now: number = Date.now()): void {
    const wait = Math.max(
      this.#failures.waitMs(`e:${email}`, this.#options.maxPerEmail, now),
      this.#failures.waitMs(`a:${address}`, this.#options.maxPerAddress, now),
    );
    if (wait > 0) {
      throw new MoongateError('too_many_requests', 'Too many failed logins. Try again later.', { retryAfter: Math.ceil(wait / 1000) });
    }
  }

  recordFailure(email: string, address: string, now: number = Date.now()): void {
    this.#failures.record(`e:${email}`, now);
    this.#failures.record(`a:${address}`, now);
  }

  /** A successful login forgets the email's failures (not the address's: one success must not reset a spray). */
  recordSuccess(email: string): void {
    this.#failures.forget(`e:${email}`);
  }
}
