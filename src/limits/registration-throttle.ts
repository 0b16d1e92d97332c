/**
 * Registrations per client address over an hour: every new account can take a free quota,
 * so one address may open only a few an hour (REGISTRATIONS_PER_HOUR, default 10); past
 * that, 429 too_many_requests with `retry-after` until the oldest registration leaves the
 * window. It slows a script down; it cannot stop one with many addresses (that needs verified
 * email or an operator's approval).
 *
 * Counted in this process, or, with REDIS_URL, in Redis (a RedisWindowCounter), so that
 * every replica counts the same registrations; while Redis is unreachable this process
 * counts alone (never unlimited). Checking and counting is one step (`take`).
 */
import { MoongateError } from '../contract/errors.js';
import { SlidingWindowCounter } from './sliding-window-counter.js';
import type { WindowCounter } from './window-counter.js';

export const REGISTRATION_WINDOW_MS = 60 * 60_000;

export class RegistrationThrottle {
  readonly #perHour: number;
  readonly #local = new SlidingWindowCounter(REGISTRATION_WINDOW_MS);
  readonly #shared: WindowCounter | undefined;

  /** `shared`: the replicas' common counter (Redis, window REGISTRATION_WINDOW_MS); without it, this process's. */
  constructor(perHour: number = 10, shared?: WindowCounter) {
    this.#perHour = perHour;
    this.#shared = shared;
  }

  /** Counts a registration from `address`, or throws 429 (counting nothing) when it has used up its hour. */
  async take(address: string, now: number = Date.now()): Promise<void> {
    let wait: number;
    if (this.#shared === undefined) {
      wait = this.#local.take(address, this.#perHour, now);
    } else {
      try {
        wait = await this.#shared.take(address, this.#perHour);
      } catch {
        wait = this.#local.take(address, this.#perHour, now);
      }
    }
    if (wait > 0) {
      throw new MoongateError('too_many_requests', 'Too many accounts were registered from this address. Try again later.', {
        retryAfter: Math.ceil(wait / 1000),
      });
    }
  }
}
