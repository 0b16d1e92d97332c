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

/** Keys kept before a sweep drops the ones whose failures have all left the window. */
const SWEEP_AT = 10_000;

export class LoginThrottle {
  readonly #options: LoginThrottleOptions;
  /** Failure times per key, oldest first. Keys are `e:<email>` and `a:<address>`. */
  readonly #failures = new Map<string, number[]>();

  constructor(options: LoginThrottleOptions = DEFAULT_LOGIN_THROTTLE) {
    this.#options = options;
  }

  /** Throws 429 when the email or the address has used up its failures. */
  check(email: string, address: string, now: number = Date.now()): void {
    const wait = Math.max(
      this.#waitMs(`e:${email}`, this.#options.maxPerEmail, now),
      this.#waitMs(`a:${address}`, this.#options.maxPerAddress, now),
    );
    if (wait > 0) {
      throw new MoongateError('too_many_requests', 'Too many failed logins. Try again later.', { retryAfter: Math.ceil(wait / 1000) });
    }
  }

  recordFailure(email: string, address: string, now: number = Date.now()): void {
    if (this.#failures.size >= SWEEP_AT) this.#sweep(now);
    for (const key of [`e:${email}`, `a:${address}`]) {
      const times = this.#recent(key, now);
      times.push(now);
      this.#failures.set(key, times);
    }
  }

  /** A successful login forgets the email's failures (not the address's: one success must not reset a spray). */
  recordSuccess(email: string): void {
    this.#failures.delete(`e:${email}`);
  }

  #waitMs(key: string, max: number, now: number): number {
    const times = this.#recent(key, now);
    if (times.length < max) return 0;
    // Blocked until enough failures leave the window to get back under the limit.
    const freeing = times[times.length - max];
    return freeing === undefined ? 0 : freeing + this.#options.windowMs - now;
  }

  #recent(key: string, now: number): number[] {
    const since = now - this.#options.windowMs;
    return (this.#failures.get(key) ?? []).filter((t) => t > since);
  }

  #sweep(now: number): void {
    const since = now - this.#options.windowMs;
    for (const [key, times] of this.#failures) {
      if ((times[times.length - 1] ?? 0) <= since) this.#failures.delete(key);
    }
  }
}
