import { describe, expect, it } from 'vitest';
import { MemoryRequestLimiter } from '../../src/limits/memory-request-limiter.js';
import type { LimitDecision, Permit } from '../../src/limits/request-limiter.js';

function permitOf(decision: LimitDecision): Permit {
  if (!decision.admitted) throw new Error(`refused: ${decision.limit}`);
  return decision.permit;
}

describe('MemoryRequestLimiter', () => {
  it('admits at most rps requests in any one-second window, and says when the next fits', async () => {
    let now = 10_000;
    const limiter = new MemoryRequestLimiter(() => now);
    const limits = { rps: 3, concurrency: 100 };
    for (const t of [10_000, 10_100, 10_900]) {
      now = t;
      permitOf(await limiter.acquire('c', limits)).release();
    }
    now = 10_950;
    expect(await limiter.acquire('c', limits)).toEqual({ admitted: false, limit: 'rps', retryAfter: 1 });
    now = 10_999;
    expect((await limiter.acquire('c', limits)).admitted).toBe(false);
    // 10_000 leaves the window at 11_000: one slot.
    now = 11_000;
    expect((await limiter.acquire('c', limits)).admitted).toBe(true);
    expect((await limiter.acquire('c', limits)).admitted).toBe(false);
    // Another credential has its own window.
    expect((await limiter.acquire('d', limits)).admitted).toBe(true);
    limiter.close();
  });

  it('retry-after counts whole seconds until a slot frees, at least 1', async () => {
    let now = 0;
    const limiter = new MemoryRequestLimiter(() => now);
    permitOf(await limiter.acquire('c', { rps: 1, concurrency: 5 })).release();
    now = 1;
    expect(await limiter.acquire('c', { rps: 1, concurrency: 5 })).toMatchObject({ retryAfter: 1 });
    limiter.close();
  });

  it('refuses beyond the concurrency limit until a permit is released, once', async () => {
    const limiter = new MemoryRequestLimiter(() => 0);
    const limits = { rps: 1_000, concurrency: 2 };
    const a = permitOf(await limiter.acquire('c', limits));
    permitOf(await limiter.acquire('c', limits));
    expect(await limiter.acquire('c', limits)).toEqual({ admitted: false, limit: 'concurrency', retryAfter: 1 });
    a.release();
    a.release(); // a second release must not free a second slot
    permitOf(await limiter.acquire('c', limits));
    expect((await limiter.acquire('c', limits)).admitted).toBe(false);
    limiter.close();
  });
});
