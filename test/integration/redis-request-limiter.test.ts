/**
 * The Redis limiter against a real Redis: two limiters on two connections stand for two
 * replicas. The behaviours both limiters share run once in memory and once on Redis.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { MemoryRequestLimiter } from '../../src/limits/memory-request-limiter.js';
import { openRedis, redisReady, type RedisClient } from '../../src/limits/redis-connection.js';
import { LEASE_MS, RedisRequestLimiter } from '../../src/limits/redis-request-limiter.js';
import type { LimitDecision, Permit, RequestLimiter } from '../../src/limits/request-limiter.js';
import { TEST_REDIS_URL, TcpProxy, describeWithRedis, useRedisPrefix } from '../helpers/redis.js';

function permitOf(decision: LimitDecision): Permit {
  if (!decision.admitted) throw new Error(`refused: ${decision.limit}`);
  return decision.permit;
}

const prefix = useRedisPrefix();
const clients: RedisClient[] = [];
const limiters: RequestLimiter[] = [];

async function redisLimiter(
  options: { url?: string; prefix?: string; replicas?: number; onDegraded?: (degraded: boolean) => void } = {},
): Promise<RedisRequestLimiter> {
  const client = openRedis(options.url ?? TEST_REDIS_URL);
  clients.push(client);
  if (!(await redisReady(client, 5_000))) throw new Error('Redis did not answer');
  const limiter = new RedisRequestLimiter({
    client,
    keyPrefix: options.prefix ?? prefix,
    fallbackReplicas: options.replicas ?? 2,
    ...(options.onDegraded ? { onDegraded: options.onDegraded } : {}),
  });
  limiters.push(limiter);
  return limiter;
}

afterEach(() => {
  for (const limiter of limiters.splice(0)) limiter.close();
  for (const client of clients.splice(0)) client.disconnect();
});

/** Both deployments, as Kysely runs one suite over every dialect: `pair()` is two replicas' limiters on one state. */
const deployments: Array<{ name: string; redis: boolean; pair(): Promise<[RequestLimiter, RequestLimiter]> }> = [
  {
    name: 'in memory',
    redis: false,
    pair: () => {
      const one = new MemoryRequestLimiter();
      limiters.push(one);
      return Promise.resolve([one, one]);
    },
  },
  { name: 'on Redis', redis: true, pair: async () => [await redisLimiter(), await redisLimiter()] },
];

let unique = 0;
const key = (): string => `cred_${(unique += 1)}`;

for (const deployment of deployments) {
  (deployment.redis ? describeWithRedis : describe)(`request limits ${deployment.name}`, () => {
    it('admits exactly `concurrency` requests at once across replicas, and a release frees a place', async () => {
      const [a, b] = await deployment.pair();
      const k = key();
      const limits = { rps: 100, concurrency: 5 };
      const decisions = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).acquire(k, limits)));
      const admitted = decisions.filter((d) => d.admitted);
      expect(admitted).toHaveLength(5);
      for (const refused of decisions.filter((d) => !d.admitted)) expect(refused).toEqual({ admitted: false, limit: 'concurrency', scope: 'credential', retryAfter: 1 });
      const first = permitOf(admitted[0] as LimitDecision);
      first.release();
      first.release(); // twice is once
      permitOf(await b.acquire(k, limits));
      expect((await a.acquire(k, limits)).admitted).toBe(false);
    });

    it('admits at most `rps` requests in one second across replicas, retry-after at least 1', async () => {
      const [a, b] = await deployment.pair();
      const k = key();
      const limits = { rps: 10, concurrency: 100 };
      const decisions = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).acquire(k, limits)));
      const admitted = decisions.filter((d) => d.admitted);
      // Forty calls may straddle a window's edge on a slow machine, never more than that.
      expect(admitted.length).toBeGreaterThanOrEqual(10);
      expect(admitted.length).toBeLessThanOrEqual(11);
      const refused = decisions.find((d) => !d.admitted);
      expect(refused).toMatchObject({ admitted: false, limit: 'rps' });
      expect((refused as { retryAfter: number }).retryAfter).toBeGreaterThanOrEqual(1);
      expect(Number.isInteger((refused as { retryAfter: number }).retryAfter)).toBe(true);
    });

    it('keeps each key apart', async () => {
      const [a] = await deployment.pair();
      const limits = { rps: 100, concurrency: 1 };
      permitOf(await a.acquire(key(), limits));
      permitOf(await a.acquire(key(), limits));
    });
  });
}

describeWithRedis('RedisRequestLimiter', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL);
  });
  afterAll(() => {
    redis.disconnect();
  });

  const keysOf = (tag: string, k: string) => ({ leases: `${prefix}{${tag}}:${k}:leases`, admitted: `${prefix}{${tag}}:${k}:admitted` });
  const serverMs = async (): Promise<number> => {
    const [seconds, micros] = await redis.time();
    return Number(seconds) * 1000 + Number(micros) / 1000;
  };

  it('admits into every entry or none: a person over its limit takes no place of the credential', async () => {
    const limiter = await redisLimiter();
    const person = `person_${key()}`;
    const [c1, c2] = [key(), key()];
    const personLimits = { rps: 100, concurrency: 2 };
    const generous = { rps: 100, concurrency: 10 };
    permitOf(await limiter.acquireAll([{ key: c1, limits: generous }, { key: person, limits: personLimits }], person));
    const held = permitOf(await limiter.acquireAll([{ key: c1, limits: generous }, { key: person, limits: personLimits }], person));
    expect(await limiter.acquireAll([{ key: c2, limits: generous }, { key: person, limits: personLimits }], person)).toEqual({
      admitted: false,
      limit: 'concurrency',
      scope: 'person',
      retryAfter: 1,
    });
    // The refused admission left nothing behind in c2's lease set or admission log.
    expect(await redis.zcard(keysOf(person, c2).leases)).toBe(0);
    expect(await redis.zcard(keysOf(person, c2).admitted)).toBe(0);
    expect(await redis.zcard(keysOf(person, c1).leases)).toBe(2);
    held.release();
    permitOf(await limiter.acquireAll([{ key: c2, limits: generous }, { key: person, limits: personLimits }], person));
  });

  it("gives a lease Redis's time plus the lease time, and no longer counts one past its expiry (a dead replica's)", async () => {
    const limiter = await redisLimiter();
    const k = key();
    const limits = { rps: 100, concurrency: 2 };
    const before = await serverMs();
    permitOf(await limiter.acquire(k, limits));
    const after = await serverMs();
    const [, score] = await redis.zrange(keysOf(k, k).leases, 0, 0, 'WITHSCORES');
    expect(Number(score)).toBeGreaterThanOrEqual(before + LEASE_MS);
    expect(Number(score)).toBeLessThanOrEqual(after + LEASE_MS);
    // A replica that died left a lease that expired a moment ago, and one that has not.
    await redis.zadd(keysOf(k, k).leases, before - 1, 'dead:1');
    expect((await limiter.acquire(k, limits)).admitted).toBe(true);
    expect(await limiter.acquire(k, limits)).toMatchObject({ admitted: false, limit: 'concurrency' });
  });

  it('slides the rps window on Redis time: admissions older than a second no longer count', async () => {
    const limiter = await redisLimiter();
    const k = key();
    const limits = { rps: 2, concurrency: 100 };
    const now = await serverMs();
    // Two admissions from more than a second ago, and two that are in any window from now on.
    await redis.zadd(keysOf(k, k).admitted, now - 1_500, 'old:1', now - 1_001, 'old:2');
    permitOf(await limiter.acquire(k, limits)).release();
    await redis.zadd(keysOf(k, k).admitted, now + 60_000, 'late:1');
    expect(await limiter.acquire(k, limits)).toEqual({ admitted: false, limit: 'rps', scope: 'credential', retryAfter: 1 });
  });

  it('renews the live leases, and puts them back into an emptied (restarted) Redis', async () => {
    const limiter = await redisLimiter();
    const k = key();
    const limits = { rps: 100, concurrency: 2 };
    const held = [permitOf(await limiter.acquire(k, limits)), permitOf(await limiter.acquire(k, limits))];
    await redis.del(keysOf(k, k).leases, keysOf(k, k).admitted);
    await limiter.renewLeases();
    expect(await redis.zcard(keysOf(k, k).leases)).toBe(2);
    expect((await limiter.acquire(k, limits)).admitted).toBe(false);
    for (const permit of held) permit.release();
    // Release is one call; wait on Redis having seen it by asking after it (same connection order).
    await limiter.renewLeases();
    expect((await limiter.acquire(k, limits)).admitted).toBe(true);
  });

  /** Counts the limiter's script calls on its client (ioredis defines each script as a method of the client). */
  const countCalls = (name: 'moongateAdmitMany' | 'moongateReleaseMany'): { readonly calls: readonly unknown[] } => {
    const client = clients[clients.length - 1] as unknown as Record<string, (...args: unknown[]) => unknown>;
    return vi.spyOn(client, name).mock;
  };

  it('sends the admissions of one turn in one call per person, each decided in order as if sent alone', async () => {
    const limiter = await redisLimiter();
    const calls = countCalls('moongateAdmitMany');
    const [ann, bob] = [`person_${key()}`, `person_${key()}`];
    const [c1, c2] = [key(), key()];
    const limits = { rps: 100, concurrency: 5 };
    const person = { rps: 100, concurrency: 100 };
    const turn = await Promise.all([
      ...Array.from({ length: 12 }, () => limiter.acquireAll([{ key: c1, limits }, { key: ann, limits: person }], ann)),
      ...Array.from({ length: 3 }, () => limiter.acquireAll([{ key: c2, limits }, { key: bob, limits: person }], bob)),
    ]);
    expect(calls.calls).toHaveLength(2);
    // In the order asked: the first five of c1 take its five places, the rest are refused.
    expect(turn.slice(0, 12).map((d) => d.admitted)).toEqual([...Array<boolean>(5).fill(true), ...Array<boolean>(7).fill(false)]);
    for (const refused of turn.slice(5, 12)) expect(refused).toEqual({ admitted: false, limit: 'concurrency', scope: 'credential', retryAfter: 1 });
    expect(turn.slice(12).every((d) => d.admitted)).toBe(true);
    expect(await redis.zcard(keysOf(ann, c1).leases)).toBe(5);
    expect(await redis.zcard(keysOf(ann, ann).leases)).toBe(5);
    expect(await redis.zcard(keysOf(bob, c2).leases)).toBe(3);
  });

  it('splits a turn of more admissions than one call takes (256), and decides every one', async () => {
    const limiter = await redisLimiter();
    const calls = countCalls('moongateAdmitMany');
    const k = key();
    const turn = await Promise.all(Array.from({ length: 300 }, () => limiter.acquire(k, { rps: 1_000, concurrency: 290 })));
    expect(calls.calls).toHaveLength(2);
    expect(turn.filter((d) => d.admitted)).toHaveLength(290);
    expect(turn.slice(290).every((d) => !d.admitted)).toBe(true);
  });

  it('sends the releases of one turn in one call, and every lease is gone', async () => {
    const limiter = await redisLimiter();
    const calls = countCalls('moongateReleaseMany');
    const k = key();
    const limits = { rps: 100, concurrency: 10 };
    const held = await Promise.all(Array.from({ length: 10 }, () => limiter.acquire(k, limits)));
    expect(await redis.zcard(keysOf(k, k).leases)).toBe(10);
    for (const decision of held) permitOf(decision).release();
    // The releases go before the admissions of the same turn, on the same connection.
    permitOf(await limiter.acquire(k, limits));
    expect(calls.calls).toHaveLength(1);
    expect(await redis.zcard(keysOf(k, k).leases)).toBe(1);
  });

  it('never lets a renewal issued before a release bring the released lease back', async () => {
    const limiter = await redisLimiter();
    const k = key();
    const limits = { rps: 100, concurrency: 1 };
    const held = permitOf(await limiter.acquire(k, limits));
    // Under load another admission is always on its way in the same turn.
    void limiter.acquire(key(), limits);
    const renewing = limiter.renewLeases();
    held.release();
    await renewing;
    // Sent after the renewal and the release: the place is free.
    expect((await limiter.acquire(k, limits)).admitted).toBe(true);
  });

  it('sends a full call of admissions after the releases asked before it in the same turn', async () => {
    const limiter = await redisLimiter();
    const k = key();
    const limits = { rps: 1_000, concurrency: 1 };
    permitOf(await limiter.acquire(k, limits)).release();
    // 256 is one full call, sent as soon as it fills: the release above must go first.
    const turn = await Promise.all(Array.from({ length: 256 }, () => limiter.acquire(k, limits)));
    expect(turn[0]?.admitted).toBe(true);
    expect(turn.filter((d) => d.admitted)).toHaveLength(1);
  });

  it('calls its script by SHA, and still works after Redis forgot its scripts', async () => {
    const limiter = await redisLimiter();
    permitOf(await limiter.acquire(key(), { rps: 100, concurrency: 1 }));
    // ioredis keeps each defined script with its SHA; the admission script is loaded in Redis.
    const shas = Object.values((clients[0] as unknown as { scriptsSet: Record<string, { sha: string }> }).scriptsSet).map((s) => s.sha);
    expect(shas).toHaveLength(3);
    expect(await redis.script('EXISTS', ...shas)).toContain(1);
    await redis.script('FLUSH');
    permitOf(await limiter.acquire(key(), { rps: 100, concurrency: 1 }));
  });

  it('rejects a key prefix that would change the hash tag', async () => {
    await expect(redisLimiter({ prefix: 'a{b}:' })).rejects.toThrow(/must not contain/);
  });

  it('degrades to a local share of each limit while Redis is cut off, and recovers by itself', async () => {
    const proxy = await TcpProxy.start();
    try {
      const events: boolean[] = [];
      let recovered: () => void = () => undefined;
      const back = new Promise<void>((resolve) => (recovered = resolve));
      const limiter = await redisLimiter({
        url: proxy.url,
        replicas: 2,
        onDegraded: (degraded) => {
          events.push(degraded);
          if (!degraded) recovered();
        },
      });
      const k = key();
      const limits = { rps: 100, concurrency: 3 };
      // Held across the cut: its lease stays in Redis (a release Redis never hears of would expire with the lease).
      permitOf(await limiter.acquire(k, limits));
      proxy.cut();
      // ceil(3 / 2) = 2 places on this replica while Redis is away: never unlimited, never refused outright.
      const local = [await limiter.acquire(k, limits), await limiter.acquire(k, limits), await limiter.acquire(k, limits)];
      expect(local.map((d) => d.admitted)).toEqual([true, true, false]);
      expect(local[2]).toMatchObject({ limit: 'concurrency', retryAfter: 1 });
      expect(limiter.degraded).toBe(true);
      expect(limiter.fallbackAdmissions).toBe(3);
      expect(events).toEqual([true]);
      proxy.resume();
      await back;
      expect(limiter.degraded).toBe(false);
      // Back on Redis: the new lease joins the one held across the cut.
      permitOf(await limiter.acquire(k, limits));
      expect(await redis.zcard(keysOf(k, k).leases)).toBe(2);
      expect(events).toEqual([true, false]);
    } finally {
      await proxy.close();
    }
  });
  it('releases the leases of an admission call whose reply was lost, once Redis answers again', async () => {
    const proxy = await TcpProxy.start();
    try {
      let recovered: () => void = () => undefined;
      const back = new Promise<void>((resolve) => (recovered = resolve));
      const limiter = await redisLimiter({ url: proxy.url, replicas: 1, onDegraded: (degraded) => !degraded && recovered() });
      const k = key();
      const limits = { rps: 100, concurrency: 2 };
      // The script is loaded and the connection in use before the reply goes missing.
      permitOf(await limiter.acquire(key(), limits));
      proxy.loseNextReply();
      // Redis admits it; this process hears only that the connection closed, and admits it locally.
      const lost = permitOf(await limiter.acquire(k, limits));
      expect(limiter.degraded).toBe(true);
      expect(await redis.zcard(keysOf(k, k).leases)).toBe(1);
      await back;
      // Nobody renews or releases that lease: it must not hold a place for the lease time.
      expect(await redis.zcard(keysOf(k, k).leases)).toBe(0);
      lost.release();
      const both = await Promise.all([limiter.acquire(k, limits), limiter.acquire(k, limits)]);
      expect(both.map((d) => d.admitted)).toEqual([true, true]);
    } finally {
      await proxy.close();
    }
  });

  it('while degraded, takes the credential and the person all or none: a refusal spends no rps', async () => {
    const proxy = await TcpProxy.start();
    try {
      const limiter = await redisLimiter({ url: proxy.url, replicas: 1 });
      proxy.cut();
      const [c, person] = [key(), `person_${key()}`];
      const credential = { rps: 2, concurrency: 10 };
      const shared = { key: person, limits: { rps: 100, concurrency: 1 } };
      const first = permitOf(await limiter.acquire(c, credential, shared));
      expect(limiter.degraded).toBe(true);
      expect(await limiter.acquire(c, credential, shared)).toEqual({ admitted: false, limit: 'concurrency', scope: 'person', retryAfter: 1 });
      first.release();
      // The refusal took nothing: the credential's second request of this second is still free.
      permitOf(await limiter.acquire(c, credential, shared));
    } finally {
      await proxy.close();
    }
  });

  it('does not report an outage for calls that fail after it was closed', async () => {
    const proxy = await TcpProxy.start();
    try {
      const events: boolean[] = [];
      const limiter = await redisLimiter({ url: proxy.url, onDegraded: (degraded) => events.push(degraded) });
      const pending = limiter.acquire(key(), { rps: 100, concurrency: 1 });
      limiter.close();
      proxy.cut();
      expect((await pending).admitted).toBe(true);
      expect(events).toEqual([]);
      expect(limiter.degraded).toBe(false);
    } finally {
      await proxy.close();
    }
  });
});
