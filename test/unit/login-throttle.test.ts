import { describe, expect, it } from 'vitest';
import { LoginThrottle } from '../../src/accounts/login-throttle.js';
import { MoongateError } from '../../src/contract/errors.js';

const MINUTE = 60_000;
const options = { windowMs: 15 * MINUTE, maxPerEmail: 5, maxPerAddress: 20 };

function blockedFor(throttle: LoginThrottle, email: string, address: string, now: number): number | undefined {
  try {
    throttle.check(email, address, now);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(MoongateError);
    expect((error as MoongateError).code).toBe('too_many_requests');
    return (error as MoongateError).retryAfter;
  }
}

describe('LoginThrottle', () => {
  it('blocks an email after 5 failures, until the oldest leaves the 15-minute window', () => {
    const throttle = new LoginThrottle(options);
    const t0 = 1_000_000;
    for (let i = 0; i < 5; i++) {
      expect(blockedFor(throttle, 'ada@example.com', `10.0.0.${i}`, t0 + i * MINUTE)).toBeUndefined();
      throttle.recordFailure('ada@example.com', `10.0.0.${i}`, t0 + i * MINUTE);
    }
    // From any address: the failures were spread over five.
    expect(blockedFor(throttle, 'ada@example.com', '10.9.9.9', t0 + 5 * MINUTE)).toBe(10 * 60);
    expect(blockedFor(throttle, 'grace@example.com', '10.9.9.9', t0 + 5 * MINUTE)).toBeUndefined();
    expect(blockedFor(throttle, 'ada@example.com', '10.9.9.9', t0 + 15 * MINUTE)).toBeUndefined();
  });

  it('blocks an address after 20 failures across emails', () => {
    const throttle = new LoginThrottle(options);
    for (let i = 0; i < 20; i++) throttle.recordFailure(`p${i}@example.com`, '10.0.0.1', 2000);
    expect(blockedFor(throttle, 'new@example.com', '10.0.0.1', 2000)).toBe(15 * 60);
    expect(blockedFor(throttle, 'new@example.com', '10.0.0.2', 2000)).toBeUndefined();
  });

  it('forgets an email\'s failures on a successful login, but not the address\'s', () => {
    const throttle = new LoginThrottle({ ...options, maxPerAddress: 5 });
    for (let i = 0; i < 4; i++) throttle.recordFailure('ada@example.com', '10.0.0.1', 1000);
    throttle.recordSuccess('ada@example.com');
    throttle.recordFailure('ada@example.com', '10.0.0.2', 1000);
    expect(blockedFor(throttle, 'ada@example.com', '10.0.0.3', 1000)).toBeUndefined();
    throttle.recordFailure('grace@example.com', '10.0.0.1', 1000);
    expect(blockedFor(throttle, 'someone@example.com', '10.0.0.1', 1000)).toBeGreaterThan(0);
  });
});
