/**
 * Login attempts, counted in memory: at most `maxPerEmail` failures per email and
 * `maxPerAddress` per client address in a sliding window, after which logins for that
 * email (or from that address) get 429 too_many_requests with `retry-after` until the
 * oldest failure leaves the window. The email limit stops guessing one person's password
 * from many addresses; the looser address limit stops one address from spraying many
 * emails while leaving room for people behind one NAT.
 *
 * An attempt is counted as a failure when it begins, before the password is checked, in
 * the same synchronous step as the check: checking first and recording after scrypt let
 * 100 simultaneous guesses all pass the check (issue 15, item 7). A success then takes its
 * own attempt back. On top, only `maxInFlightPerEmail` checks of one email and
 * `maxInFlightPerAddress` from one address may run at once; more are 429 with
 * `retry-after: 1` without hashing anything.
 *
 * The failures are counted in this process, or, with REDIS_URL, in Redis (a
 * RedisLoginCounter, through `admit`), so that every replica counts the same attempts;
 * while Redis is unreachable this process counts alone (never unlimited). The in-flight
 * caps are per process either way: they bound the scrypt work one process takes on.
 */
import { MoongateError } from '../contract/errors.js';
import type { SharedLoginCounter } from './redis-login-counter.js';
import { SlidingWindowCounter } from './sliding-window-counter.js';

export interface LoginThrottleOptions {
  windowMs: number;
  maxPerEmail: number;
  maxPerAddress: number;
  maxInFlightPerEmail: number;
  maxInFlightPerAddress: number;
}

export const DEFAULT_LOGIN_THROTTLE: Readonly<LoginThrottleOptions> = Object.freeze({
  windowMs: 15 * 60_000,
  maxPerEmail: 5,
  maxPerAddress: 20,
  maxInFlightPerEmail: 2,
  maxInFlightPerAddress: 4,
});

/** One attempt under way: end it exactly once, with how the password check went. */
export interface LoginAttempt {
  succeeded(): void;
  failed(): void;
}

const TOO_MANY = 'Too many failed logins. Try again later.';

export class LoginThrottle {
  readonly #options: LoginThrottleOptions;
  /** Attempts not (yet) known to have succeeded, keyed `e:<email>` and `a:<address>`. */
  readonly #failures: SlidingWindowCounter;
  /** Password checks running now, same keys. */
  readonly #inFlight = new Map<string, number>();

  readonly #shared: SharedLoginCounter | undefined;

  /** `shared`: the replicas' common count of failures (Redis); without it, this process's. */
  constructor(options: Partial<LoginThrottleOptions> = {}, shared?: SharedLoginCounter) {
    this.#options = { ...DEFAULT_LOGIN_THROTTLE, ...options };
    this.#failures = new SlidingWindowCounter(this.#options.windowMs);
    this.#shared = shared;
  }

  /**
   * `begin`, counted on the shared counter when there is one. The in-flight places are
   * taken before Redis is asked, so the caps hold while it answers; the count on Redis is
   * one script (check and record both keys), so parallel attempts on every replica cannot
   * all pass. Redis unreachable: `begin` on this process's count.
   */
  async admit(email: string, address: string, now: number = Date.now()): Promise<LoginAttempt> {
    const shared = this.#shared;
    if (shared === undefined) return this.begin(email, address, now);
    const emailKey = `e:${email}`;
    const addressKey = `a:${address}`;
    this.#holdPlaces(emailKey, addressKey);
    let counted: { wait: number; id: string } | undefined;
    try {
      counted = await shared.begin(email, address, this.#options);
    } catch {
      counted = undefined;
    }
    if (counted === undefined || counted.wait > 0) {
      this.#adjust(emailKey, -1);
      this.#adjust(addressKey, -1);
      if (counted === undefined) return this.begin(email, address, now);
      throw new MoongateError('too_many_requests', TOO_MANY, { retryAfter: Math.ceil(counted.wait / 1000) });
    }
    const { id } = counted;
    // A lost forget only leaves failures that expire with the window: never worth failing a login for.
    return this.#attempt(emailKey, addressKey, () => void shared.succeeded(email, address, id).catch(() => undefined));
  }

  /**
   * Throws 429 when the email or the address has used up its failures or has too many
   * checks running; otherwise counts the attempt as a failure now and returns it.
   * Synchronous from check to record, so parallel attempts cannot all pass the check.
   */
  begin(email: string, address: string, now: number = Date.now()): LoginAttempt {
    const emailKey = `e:${email}`;
    const addressKey = `a:${address}`;
    this.#checkPlaces(emailKey, addressKey);
    const wait = Math.max(
      this.#failures.waitMs(emailKey, this.#options.maxPerEmail, now),
      this.#failures.waitMs(addressKey, this.#options.maxPerAddress, now),
    );
    if (wait > 0) throw new MoongateError('too_many_requests', TOO_MANY, { retryAfter: Math.ceil(wait / 1000) });
    this.#failures.record(emailKey, now);
    this.#failures.record(addressKey, now);
    this.#holdPlaces(emailKey, addressKey);
    return this.#attempt(emailKey, addressKey, () => {
      // A success forgets the email's failures, but only takes back its own attempt from
      // the address: one success must not reset a spray of guesses at other emails.
      this.#failures.forget(emailKey);
      this.#failures.remove(addressKey, now);
    });
  }

  /** Throws 429 (retry-after 1) when the email or the address has too many checks running. */
  #checkPlaces(emailKey: string, addressKey: string): void {
    if ((this.#inFlight.get(emailKey) ?? 0) >= this.#options.maxInFlightPerEmail || (this.#inFlight.get(addressKey) ?? 0) >= this.#options.maxInFlightPerAddress) {
      throw new MoongateError('too_many_requests', TOO_MANY, { retryAfter: 1 });
    }
  }

  #holdPlaces(emailKey: string, addressKey: string): void {
    this.#checkPlaces(emailKey, addressKey);
    this.#adjust(emailKey, 1);
    this.#adjust(addressKey, 1);
  }

  /** The attempt whose end frees its places once; `onSuccess` takes its failure back. */
  #attempt(emailKey: string, addressKey: string, onSuccess: () => void): LoginAttempt {
    let ended = false;
    const end = (): boolean => {
      if (ended) return false;
      ended = true;
      this.#adjust(emailKey, -1);
      this.#adjust(addressKey, -1);
      return true;
    };
    return {
      failed: () => void end(),
      succeeded: () => {
        if (end()) onSuccess();
      },
    };
  }

  #adjust(key: string, by: number): void {
    const count = (this.#inFlight.get(key) ?? 0) + by;
    if (count <= 0) this.#inFlight.delete(key);
    else this.#inFlight.set(key, count);
  }
}
