import { describe, expect, it } from 'vitest';
import { LoginThrottle, type LoginAttempt } from '../../src/limits/login-throttle.js';
import { MoongateError } from '../../src/contract/errors.js';

const MINUTE = 60_000;
const options = { windowMs: 15 * MINUTE, maxPerEmail: 5, maxPerAddress: 20, maxInFlightPerEmail: 100, maxInFlightPerAddress: 100 };

/** Begins an attempt: the attempt, or the retry-after of the 429 it got. */
function begin(throttle: LoginThrottle, email: string, address: string, now: number): LoginAttempt | number {
  try {
    return throttle.begin(email, address, now);
  } catch (error) {
    expect(error).toBeInstanceOf(MoongateError);
    expect((error as MoongateError).code).toBe('too_many_requests');
    return (error as MoongateError).retryAfter ?? -1;
  }
}

function fail(throttle: LoginThrottle, email: string, address: string, now: number): void {
  const attempt = begin(throttle, email, address, now);
  if (typeof attempt === 'number') throw new Error(`blocked for ${attempt}s`);
  attempt.failed();
}

/** Whether a new attempt would be let through (it is ended as a success, which takes it back). */
function blockedFor(throttle: LoginThrottle, email: string, address: string, now: number): number | undefined {
  const attempt = begin(throttle, email, address, now);
  if (typeof attempt === 'number') return attempt;
  attempt.succeeded();
  return undefined;
}

describe('LoginThrottle', () => {
  it('blocks an email after 5 failures, until the oldest leaves the 15-minute window', () => {
    const throttle = new LoginThrottle(options);
    const t0 = 1_000_000;
    for (let i = 0; i < 5; i++) fail(throttle, 'ada@example.com', `10.0.0.${i}`, t0 + i * MINUTE);
    // From any address: the failures were spread over five.
    expect(blockedFor(throttle, 'ada@example.com', '10.9.9.9', t0 + 5 * MINUTE)).toBe(10 * 60);
    expect(blockedFor(throttle, 'grace@example.com', '10.9.9.9', t0 + 5 * MINUTE)).toBeUndefined();
    expect(blockedFor(throttle, 'ada@example.com', '10.9.9.9', t0 + 15 * MINUTE)).toBeUndefined();
  });

  it('blocks an address after 20 failures across emails', () => {
    const throttle = new LoginThrottle(options);
    for (let i = 0; i < 20; i++) fail(throttle, `p${i}@example.com`, '10.0.0.1', 2000);
    expect(blockedFor(throttle, 'new@example.com', '10.0.0.1', 2000)).toBe(15 * 60);
    expect(blockedFor(throttle, 'new@example.com', '10.0.0.2', 2000)).toBeUndefined();
  });

  it("forgets an email's failures on a successful login, but not the address's", () => {
    const throttle = new LoginThrottle({ ...options, maxPerAddress: 5 });
    for (let i = 0; i < 4; i++) fail(throttle, 'ada@example.com', '10.0.0.1', 1000);
    const success = begin(throttle, 'ada@example.com', '10.0.0.1', 1000);
    if (typeof success === 'number') throw new Error('blocked');
    success.succeeded();
    fail(throttle, 'ada@example.com', '10.0.0.2', 1000);
    expect(blockedFor(throttle, 'ada@example.com', '10.0.0.3', 1000)).toBeUndefined();
    fail(throttle, 'grace@example.com', '10.0.0.1', 1000);
    expect(blockedFor(throttle, 'someone@example.com', '10.0.0.1', 1000)).toBeGreaterThan(0);
  });

  it('counts an attempt when it begins: parallel attempts past the limit are refused before any check ends', () => {
    const throttle = new LoginThrottle(options);
    // 100 guesses begun at once, none finished yet (their scrypt still running).
    const begun = Array.from({ length: 100 }, (_, i) => begin(throttle, 'ada@example.com', `10.0.1.${i}`, 5000));
    expect(begun.filter((a) => typeof a !== 'number')).toHaveLength(5);
    expect(begun.slice(5).every((a) => a === 15 * 60)).toBe(true);
  });

  it('caps the checks in flight per email and per address (429 with retry-after 1), and frees the place when one ends', () => {
    const throttle = new LoginThrottle({ ...options, maxInFlightPerEmail: 2, maxInFlightPerAddress: 3 });
    const first = begin(throttle, 'ada@example.com', '10.0.0.1', 1000);
    const second = begin(throttle, 'ada@example.com', '10.0.0.2', 1000);
    expect(begin(throttle, 'ada@example.com', '10.0.0.3', 1000)).toBe(1);
    if (typeof first === 'number' || typeof second === 'number') throw new Error('blocked');
    first.failed();
    first.failed(); // a second end changes nothing
    const third = begin(throttle, 'ada@example.com', '10.0.0.3', 1000);
    expect(typeof third).toBe('object');
    // The address: three of its checks running, for different emails.
    const spray = [1, 2, 3].map((i) => begin(throttle, `p${i}@example.com`, '10.0.0.9', 1000));
    expect(spray.every((a) => typeof a === 'object')).toBe(true);
    expect(begin(throttle, 'p4@example.com', '10.0.0.9', 1000)).toBe(1);
  });
});
