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
    expect(await limiter.acquire('c', limits)).toEqual({ admitted: false, limit: 'rps', scope: 'credential', retryAfter: 1 });
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
    expect(await limiter.acquire('c', limits)).toEqual({ admitted: false, limit: 'concurrency', scope: 'credential', retryAfter: 1 });
    a.release();
    a.release(); // a second release must not free a second slot
    permitOf(await limiter.acquire('c', limits));
    expect((await limiter.acquire('c', limits)).admitted).toBe(false);
    limiter.close();
  });

  it("caps a person's requests across all their credentials, and a refusal takes no place from either", async () => {
    const limiter = new MemoryRequestLimiter(() => 5_000);
    const own = { rps: 100, concurrency: 20 };
    const person = { key: 'per_1', limits: { rps: 100, concurrency: 3 } };
    // Three credentials of one person, one request each: the person's concurrency is full.
    const permits = [permitOf(await limiter.acquire('c1', own, person)), permitOf(await limiter.acquire('c2', own, person)), permitOf(await limiter.acquire('c3', own, person))];
    expect(await limiter.acquire('c4', own, person)).toEqual({ admitted: false, limit: 'concurrency', scope: 'person', retryAfter: 1 });
    // Another person is not affected.
    expect((await limiter.acquire('c5', own, { key: 'per_2', limits: person.limits })).admitted).toBe(true);
    // The refused request did not take c4's place: with the person's room back, c4 runs up to its own limit.
    permits[0]?.release();
    const tight = { rps: 100, concurrency: 1 };
    const c4 = permitOf(await limiter.acquire('c4', tight, person));
    expect(await limiter.acquire('c4', tight, person)).toMatchObject({ admitted: false, scope: 'credential' });
    // A credential refused by its own limit takes no place from its person either.
    c4.release();
    permitOf(await limiter.acquire('c4', tight, person));
    expect(await limiter.acquire('c1', own, person)).toMatchObject({ admitted: false, scope: 'person' });
    limiter.close();
  });

  it("caps a person's requests per second across their credentials", async () => {
    const limiter = new MemoryRequestLimiter(() => 7_000);
    const person = { key: 'per_1', limits: { rps: 2, concurrency: 100 } };
    permitOf(await limiter.acquire('a', { rps: 60, concurrency: 20 }, person)).release();
    permitOf(await limiter.acquire('b', { rps: 60, concurrency: 20 }, person)).release();
    expect(await limiter.acquire('c', { rps: 60, concurrency: 20 }, person)).toEqual({ admitted: false, limit: 'rps', scope: 'person', retryAfter: 1 });
    limiter.close();
  });
});
