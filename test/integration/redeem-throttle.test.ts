/**
 * The redeem throttle (10 failed top-up codes per person per 15 minutes) run on both
 * deployments, as Kysely runs one suite over every dialect: once in memory (one server),
 * once with REDIS_URL, where two servers on one PostgreSQL schema and one Redis stand for
 * two replicas and a person's failures are spread over both.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TopupCodeStore } from '../../src/billing/topup-code-store.js';
import { ConsoleClient, expectError } from '../helpers/console-client.js';
import { describeWithPostgres, type PostgresSchema } from '../helpers/postgres.js';
import { TEST_REDIS_URL, redisAvailable, useRedisPrefix } from '../helpers/redis.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const prefix = useRedisPrefix();

/** The suite; `start` gives the servers (replicas) a person's requests alternate between. */
function throttleSuite(start: () => Promise<TestServer[]>): void {
  let servers: TestServer[] = [];
  beforeAll(async () => {
    servers = await start();
  });
  afterAll(async () => {
    for (const server of servers) await server.close();
  });

  /** The same logged-in browser on every replica (sessions live in the shared store). */
  const browsers = async (): Promise<ConsoleClient[]> => {
    const [first, ...rest] = servers;
    if (first === undefined) throw new Error('no server');
    const { browser } = await ConsoleClient.newPerson(first.server.app);
    return [browser, ...rest.map((s) => Object.assign(new ConsoleClient(s.server.app), { cookie: browser.cookie, csrfToken: browser.csrfToken }))];
  };
  const newCode = async (): Promise<string> => {
    const [made] = await new TopupCodeStore(servers[0]!.server.store.db).createCodes({ amount: 1, count: 1, expiresAt: null });
    if (made === undefined) throw new Error('no code made');
    return made.code;
  };
  const redeem = (browser: ConsoleClient, code: string) => browser.request('POST', '/api/balance/redeem', { body: { code } });

  it('throttles a person after 10 failures on any replica (429 with retry-after, even for a valid code), not others', async () => {
    const mine = await browsers();
    for (let i = 0; i < 10; i++) {
      expectError(await redeem(mine[i % mine.length]!, `MG-0000-0000-0000-${String(i).padStart(4, '0')}`), 400, 'bad_request');
    }
    const valid = await newCode();
    for (const browser of mine) {
      const blocked = await redeem(browser, valid);
      expectError(blocked, 429, 'too_many_requests');
      const retryAfter = Number(blocked.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(14 * 60);
      expect(retryAfter).toBeLessThanOrEqual(15 * 60);
    }
    // The code was not spent: someone else can still redeem it, on the last replica.
    const other = (await browsers()).at(-1)!;
    expect((await redeem(other, valid)).status).toBe(200);
  });

  it('9 failures spread over the replicas leave the 10th attempt through', async () => {
    const mine = await browsers();
    for (let i = 0; i < 9; i++) {
      expectError(await redeem(mine[i % mine.length]!, `MG-0000-0000-0001-${String(i).padStart(4, '0')}`), 400, 'bad_request');
    }
    expect((await redeem(mine.at(-1)!, await newCode())).status).toBe(200);
  });
}

describe('redeem throttle in memory (one server)', () => {
  throttleSuite(async () => [await startTestServer({ env: { REGISTRATIONS_PER_HOUR: '1000' } })]);
});

describeWithPostgres('redeem throttle with REDIS_URL (two replicas)', (schema: PostgresSchema) => {
  describe.skipIf(!redisAvailable)('on Redis', () => {
    const env = (): Record<string, string> => ({
      DATABASE_URL: schema.url,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      REGISTRATIONS_PER_HOUR: '1000',
    });
    throttleSuite(async () => {
      const first = await startTestServer({ env: env() });
      return [first, await startTestServer({ env: env() })];
    });
  });
});
