/**
 * The login and registration throttles, run once in memory and once on a real Redis (issue
 * 17's global throttles). On Redis, two throttles on two connections stand for two replicas,
 * which must count the same attempts; in memory, one throttle serves as both.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { LoginThrottle, type LoginAttempt, type LoginThrottleOptions } from '../../src/limits/login-throttle.js';
import { openRedis, redisReady, type RedisClient } from '../../src/limits/redis-connection.js';
import { RedisLoginCounter } from '../../src/limits/redis-login-counter.js';
import { RedisWindowCounter } from '../../src/limits/redis-window-counter.js';
import { REGISTRATION_WINDOW_MS, RegistrationThrottle } from '../../src/limits/registration-throttle.js';
import { TEST_REDIS_URL, TcpProxy, describeWithRedis, useRedisPrefix } from '../helpers/redis.js';

const prefix = useRedisPrefix();
const clients: RedisClient[] = [];

async function client(url: string = TEST_REDIS_URL): Promise<RedisClient> {
  const opened = openRedis(url);
  clients.push(opened);
  if (!(await redisReady(opened, 5_000))) throw new Error('Redis did not answer');
  return opened;
}

afterEach(() => {
  for (const opened of clients.splice(0)) opened.disconnect();
});

let unique = 0;
const email = (): string => `who{${(unique += 1)}}@example.com`;
const address = (): string => `10.9.${Math.floor((unique += 1) / 250)}.${unique % 250}`;

const OPTIONS: LoginThrottleOptions = { windowMs: 15 * 60_000, maxPerEmail: 5, maxPerAddress: 20, maxInFlightPerEmail: 100, maxInFlightPerAddress: 100 };

async function refusal(attempt: Promise<unknown>): Promise<{ code?: string; retryAfter?: number } | undefined> {
  return attempt.then(
    () => undefined,
    (error: unknown) => error as { code?: string; retryAfter?: number },
  );
}

const deployments: Array<{
  name: string;
  redis: boolean;
  logins(options?: Partial<LoginThrottleOptions>): Promise<[LoginThrottle, LoginThrottle]>;
  registrations(perHour: number): Promise<[RegistrationThrottle, RegistrationThrottle]>;
}> = [
  {
    name: 'in memory',
    redis: false,
    logins: (options = {}) => {
      const one = new LoginThrottle({ ...OPTIONS, ...options });
      return Promise.resolve([one, one]);
    },
    registrations: (perHour) => {
      const one = new RegistrationThrottle(perHour);
      return Promise.resolve([one, one]);
    },
  },
  {
    name: 'on Redis',
    redis: true,
    logins: async (options = {}) => [
      new LoginThrottle({ ...OPTIONS, ...options }, new RedisLoginCounter(await client(), { keyPrefix: prefix })),
      new LoginThrottle({ ...OPTIONS, ...options }, new RedisLoginCounter(await client(), { keyPrefix: prefix })),
    ],
    registrations: async (perHour) => [
      new RegistrationThrottle(perHour, new RedisWindowCounter(await client(), { name: 'registrations', windowMs: REGISTRATION_WINDOW_MS, keyPrefix: prefix })),
      new RegistrationThrottle(perHour, new RedisWindowCounter(await client(), { name: 'registrations', windowMs: REGISTRATION_WINDOW_MS, keyPrefix: prefix })),
    ],
  },
];

for (const deployment of deployments) {
  (deployment.redis ? describeWithRedis : describe)(`login throttle ${deployment.name}`, () => {
    it("counts an email's failures on every replica: after 5, both refuse it with retry-after, other emails pass", async () => {
      const [a, b] = await deployment.logins();
      const ada = email();
      for (let i = 0; i < 5; i += 1) (await (i % 2 === 0 ? a : b).admit(ada, address())).failed();
      for (const replica of [a, b]) {
        const refused = await refusal(replica.admit(ada, address()));
        expect(refused).toMatchObject({ code: 'too_many_requests' });
        expect(refused?.retryAfter).toBeGreaterThanOrEqual(1);
      }
      (await a.admit(email(), address())).failed();
    });

    it('counts an attempt when it begins: of 40 parallel attempts on two replicas, exactly 5 pass', async () => {
      const [a, b] = await deployment.logins();
      const ada = email();
      const settled = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).admit(ada, address())));
      const begun = settled.filter((result): result is PromiseFulfilledResult<LoginAttempt> => result.status === 'fulfilled');
      expect(begun).toHaveLength(5);
      for (const result of settled) if (result.status === 'rejected') expect(result.reason).toMatchObject({ code: 'too_many_requests' });
      for (const result of begun) result.value.failed();
    });

    it("an attempt refused for its address is not counted against the email", async () => {
      const [a, b] = await deployment.logins({ maxPerAddress: 3 });
      const spray = address();
      for (let i = 0; i < 3; i += 1) (await a.admit(email(), spray)).failed();
      const victim = email();
      for (let i = 0; i < 3; i += 1) expect(await refusal(b.admit(victim, spray))).toMatchObject({ code: 'too_many_requests' });
      // The victim's own five attempts are all still there.
      for (let i = 0; i < 5; i += 1) (await (i % 2 === 0 ? a : b).admit(victim, address())).failed();
      expect(await refusal(a.admit(victim, address()))).toMatchObject({ code: 'too_many_requests' });
    });

    it("a success forgets the email's failures, but takes back only its own attempt from the address", async () => {
      const [a, b] = await deployment.logins({ maxPerAddress: 5 });
      const from = address();
      const ada = email();
      for (let i = 0; i < 3; i += 1) (await a.admit(ada, from)).failed();
      (await b.admit(email(), from)).failed();
      (await b.admit(ada, from)).succeeded();
      // The address holds 4 failures (its success taken back): one more passes, then it is full.
      (await a.admit(ada, from)).failed();
      expect(await refusal(b.admit(email(), from))).toMatchObject({ code: 'too_many_requests' });
      // Ada's count started again at the success: 1 failure since, 4 more from elsewhere pass.
      for (let i = 0; i < 4; i += 1) (await (i % 2 === 0 ? a : b).admit(ada, address())).failed();
      expect(await refusal(a.admit(ada, address()))).toMatchObject({ code: 'too_many_requests' });
    });

    it('caps the checks in flight per process (429 with retry-after 1)', async () => {
      const [a] = await deployment.logins({ maxInFlightPerEmail: 2 });
      const ada = email();
      const first = await a.admit(ada, address());
      const second = await a.admit(ada, address());
      expect(await refusal(a.admit(ada, address()))).toMatchObject({ code: 'too_many_requests', retryAfter: 1 });
      first.failed();
      second.failed();
      (await a.admit(ada, address())).failed();
    });
  });

  (deployment.redis ? describeWithRedis : describe)(`registration throttle ${deployment.name}`, () => {
    it("counts an address's registrations on every replica: past the hour's limit, both refuse it", async () => {
      const [a, b] = await deployment.registrations(3);
      const from = address();
      await Promise.all([a.take(from), b.take(from), a.take(from)]);
      for (const replica of [a, b]) {
        const refused = await refusal(replica.take(from));
        expect(refused).toMatchObject({ code: 'too_many_requests' });
        expect(refused?.retryAfter).toBeGreaterThanOrEqual(1);
      }
      await b.take(address());
    });

    it('of 20 parallel registrations from one address on two replicas, exactly the limit pass', async () => {
      const [a, b] = await deployment.registrations(4);
      const from = address();
      const settled = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).take(from)));
      expect(settled.filter((result) => result.status === 'fulfilled')).toHaveLength(4);
    });
  });
}

describeWithRedis('the throttles while Redis is unreachable', () => {
  it('the login throttle counts in this process, never unlimited', async () => {
    const proxy = await TcpProxy.start();
    try {
      const throttle = new LoginThrottle(OPTIONS, new RedisLoginCounter(await client(proxy.url), { keyPrefix: prefix }));
      proxy.cut();
      const ada = email();
      for (let i = 0; i < 5; i += 1) (await throttle.admit(ada, address())).failed();
      expect(await refusal(throttle.admit(ada, address()))).toMatchObject({ code: 'too_many_requests' });
    } finally {
      await proxy.close();
    }
  });

  it('the registration throttle counts in this process, never unlimited', async () => {
    const proxy = await TcpProxy.start();
    try {
      const throttle = new RegistrationThrottle(
        2,
        new RedisWindowCounter(await client(proxy.url), { name: 'registrations', windowMs: REGISTRATION_WINDOW_MS, keyPrefix: prefix }),
      );
      proxy.cut();
      const from = address();
      await throttle.take(from);
      await throttle.take(from);
      expect(await refusal(throttle.take(from))).toMatchObject({ code: 'too_many_requests' });
    } finally {
      await proxy.close();
    }
  });
});
