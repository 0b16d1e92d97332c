/**
 * The throttles' window counter and the change bus, run once in memory and once on a real
 * Redis. Two counters or buses on two connections stand for two replicas.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RedeemThrottle } from '../../src/limits/redeem-throttle.js';
import { LocalChangeBus, RedisChangeBus, type Change, type ChangeBus } from '../../src/limits/change-bus.js';
import { openRedis, redisReady, type RedisClient } from '../../src/limits/redis-connection.js';
import { RedisWindowCounter } from '../../src/limits/redis-window-counter.js';
import { MemoryWindowCounter, type WindowCounter } from '../../src/limits/window-counter.js';
import { TEST_REDIS_URL, TcpProxy, describeWithRedis, useRedisPrefix } from '../helpers/redis.js';

const prefix = useRedisPrefix();
const clients: RedisClient[] = [];
const buses: ChangeBus[] = [];

async function client(url: string = TEST_REDIS_URL): Promise<RedisClient> {
  const opened = openRedis(url);
  clients.push(opened);
  if (!(await redisReady(opened, 5_000))) throw new Error('Redis did not answer');
  return opened;
}

afterEach(async () => {
  for (const bus of buses.splice(0)) await bus.close();
  for (const opened of clients.splice(0)) opened.disconnect();
});

let unique = 0;
const key = (): string => `who{${(unique += 1)}}@example.com`;

const deployments: Array<{ name: string; redis: boolean; pair(windowMs: number): Promise<[WindowCounter, WindowCounter]> }> = [
  {
    name: 'in memory',
    redis: false,
    pair: (windowMs) => {
      const one = new MemoryWindowCounter(windowMs);
      return Promise.resolve([one, one]);
    },
  },
  {
    name: 'on Redis',
    redis: true,
    pair: async (windowMs) => [
      new RedisWindowCounter(await client(), { name: 'login', windowMs, keyPrefix: prefix }),
      new RedisWindowCounter(await client(), { name: 'login', windowMs, keyPrefix: prefix }),
    ],
  },
];

for (const deployment of deployments) {
  (deployment.redis ? describeWithRedis : describe)(`window counter ${deployment.name}`, () => {
    it('take is atomic: of 50 parallel attempts on two replicas, exactly `max` pass', async () => {
      const [a, b] = await deployment.pair(60_000);
      const k = key();
      const waits = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a : b).take(k, 5)));
      expect(waits.filter((w) => w === 0)).toHaveLength(5);
      for (const wait of waits.filter((w) => w !== 0)) {
        // Blocked until the oldest of the five leaves the one-minute window.
        expect(wait).toBeGreaterThan(0);
        expect(wait).toBeLessThanOrEqual(60_000);
      }
    });

    it('record and waitMs: under the limit waits 0, at it waits, forget clears', async () => {
      const [a, b] = await deployment.pair(60_000);
      const k = key();
      expect(await a.waitMs(k, 2)).toBe(0);
      await a.record(k);
      expect(await b.waitMs(k, 2)).toBe(0);
      await b.record(k);
      expect(await a.waitMs(k, 2)).toBeGreaterThan(0);
      // Checking counts nothing.
      expect(await a.waitMs(k, 3)).toBe(0);
      await b.forget(k);
      expect(await a.waitMs(k, 2)).toBe(0);
      // Keys are apart, braces and all.
      await a.record(k);
      expect(await a.waitMs(key(), 1)).toBe(0);
    });
  });
}

describeWithRedis('RedisWindowCounter', () => {
  it('rejects while Redis is unreachable, so its caller can fall back', async () => {
    const proxy = await TcpProxy.start();
    try {
      const counter = new RedisWindowCounter(await client(proxy.url), { name: 'redeem', windowMs: 1_000, keyPrefix: prefix });
      expect(await counter.take(key(), 1)).toBe(0);
      proxy.cut();
      await expect(counter.take(key(), 1)).rejects.toThrow();
    } finally {
      await proxy.close();
    }
  });
});

describeWithRedis('RedeemThrottle with REDIS_URL', () => {
  const options = { windowMs: 60_000, max: 4 };

  it('counts a person\'s failures across replicas', async () => {
    const [a, b] = [
      new RedeemThrottle(options, new RedisWindowCounter(await client(), { name: 'redeem', windowMs: options.windowMs, keyPrefix: prefix })),
      new RedeemThrottle(options, new RedisWindowCounter(await client(), { name: 'redeem', windowMs: options.windowMs, keyPrefix: prefix })),
    ];
    const person = key();
    for (let i = 0; i < 4; i += 1) {
      await (i % 2 === 0 ? a : b).check(person);
      await (i % 2 === 0 ? a : b).recordFailure(person);
    }
    // Each replica alone saw 2 of the 4 failures; together they are at the limit.
    for (const replica of [a, b]) {
      const refused = await replica.check(person).then(() => undefined, (error: unknown) => error);
      expect(refused).toMatchObject({ code: 'too_many_requests' });
      expect((refused as { retryAfter: number }).retryAfter).toBeGreaterThanOrEqual(1);
    }
    await a.check(key());
  });

  it('counts in this process while Redis is unreachable, never unlimited', async () => {
    const proxy = await TcpProxy.start();
    try {
      const throttle = new RedeemThrottle(options, new RedisWindowCounter(await client(proxy.url), { name: 'redeem', windowMs: options.windowMs, keyPrefix: prefix }));
      proxy.cut();
      const person = key();
      for (let i = 0; i < 4; i += 1) {
        await throttle.check(person);
        await throttle.recordFailure(person);
      }
      await expect(throttle.check(person)).rejects.toMatchObject({ code: 'too_many_requests' });
    } finally {
      await proxy.close();
    }
  });
});

function nextChange(bus: ChangeBus): Promise<Change> {
  return new Promise((resolve) => {
    const stop = bus.subscribe((change) => {
      stop();
      resolve(change);
    });
  });
}

describe('LocalChangeBus', () => {
  it('tells every subscriber of this process', async () => {
    const bus = new LocalChangeBus();
    const heard = [nextChange(bus), nextChange(bus)];
    await bus.publish({ kind: 'credential', id: 'cred_1' });
    expect(await Promise.all(heard)).toEqual([
      { kind: 'credential', id: 'cred_1' },
      { kind: 'credential', id: 'cred_1' },
    ]);
  });
});

describeWithRedis('RedisChangeBus', () => {
  async function bus(url?: string): Promise<RedisChangeBus> {
    const opened = new RedisChangeBus(await client(url), { keyPrefix: prefix });
    buses.push(opened);
    await opened.ready();
    return opened;
  }

  it('a change published on one replica reaches subscribers on two other connections, and the publisher once', async () => {
    const [a, b, c] = [await bus(), await bus(), await bus()];
    const heardByA: Change[] = [];
    a.subscribe((change) => heardByA.push(change));
    const heard = [nextChange(b), nextChange(c)];
    await a.publish({ kind: 'credential', id: 'cred_revoked' });
    expect(await Promise.all(heard)).toEqual([
      { kind: 'credential', id: 'cred_revoked' },
      { kind: 'credential', id: 'cred_revoked' },
    ]);
    // b's reply travels through Redis after a's own message would have: a heard its own change once.
    const echo = nextChange(a);
    await b.publish({ kind: 'person', id: 'person_1' });
    expect(await echo).toEqual({ kind: 'person', id: 'person_1' });
    expect(heardByA).toEqual([
      { kind: 'credential', id: 'cred_revoked' },
      { kind: 'person', id: 'person_1' },
    ]);
  });

  it('ignores messages on its channel that are not changes', async () => {
    const [a, raw] = [await bus(), await client()];
    const heard = nextChange(a);
    await raw.publish(`${prefix}changes`, 'not json');
    await raw.publish(`${prefix}changes`, JSON.stringify({ origin: 'x', kind: 'drop-tables' }));
    await raw.publish(`${prefix}changes`, JSON.stringify({ origin: 'x', kind: 'model', id: 'kimi-k2' }));
    expect(await heard).toEqual({ kind: 'model', id: 'kimi-k2' });
  });

  it('after its subscriber connection was cut, tells listeners to forget everything', async () => {
    const proxy = await TcpProxy.start();
    try {
      const a = await bus(proxy.url);
      const heard = nextChange(a);
      proxy.cut();
      proxy.resume();
      expect(await heard).toEqual({ kind: 'all' });
    } finally {
      await proxy.close();
    }
  });
});
