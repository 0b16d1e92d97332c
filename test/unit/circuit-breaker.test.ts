import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../src/gateway/circuit-breaker.js';

function breaker(failures = 3, cooldownMs = 1000) {
  let now = 0;
  const b = new CircuitBreaker({ failures, cooldownMs }, () => now);
  return { b, advance: (ms: number) => (now += ms) };
}

describe('CircuitBreaker', () => {
  it('opens after `failures` consecutive failures, not after interrupted ones', () => {
    const { b } = breaker(3);
    b.failure();
    b.failure();
    b.success();
    b.failure();
    b.failure();
    expect(b.state).toBe('closed');
    b.failure();
    expect(b.state).toBe('open');
    expect(b.canPass()).toBe(false);
  });

  it('half-opens after the cool-down and lets exactly one trial through', () => {
    const { b, advance } = breaker(1, 1000);
    b.failure();
    advance(999);
    expect(b.canPass()).toBe(false);
    advance(1);
    expect(b.state).toBe('half-open');
    expect(b.canPass()).toBe(true);
    b.begin();
    expect(b.canPass()).toBe(false);
    b.success();
    expect(b.state).toBe('closed');
    expect(b.canPass()).toBe(true);
  });

  it('a failed trial opens it for another full cool-down', () => {
    const { b, advance } = breaker(5, 1000);
    for (let i = 0; i < 5; i++) b.failure();
    advance(1000);
    b.begin();
    b.failure();
    expect(b.state).toBe('open');
    advance(999);
    expect(b.state).toBe('open');
    advance(1);
    expect(b.state).toBe('half-open');
  });

  it('a trial the client abandoned frees the slot without deciding', () => {
    const { b, advance } = breaker(1, 10);
    b.failure();
    advance(10);
    b.begin();
    b.release();
    expect(b.state).toBe('half-open');
    expect(b.canPass()).toBe(true);
  });
});
