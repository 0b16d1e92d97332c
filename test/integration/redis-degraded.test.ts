/**
 * A server with REDIS_URL whose Redis goes away (a TCP proxy the test cuts): it keeps
 * serving with its local share of the limits, and says so in /readyz (still 200) and in
 * /metrics.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { TcpProxy, describeWithRedis, useRedisPrefix } from '../helpers/redis.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const METRICS_TOKEN = 'metrics-token-for-the-redis-tests';

const prefix = useRedisPrefix();

it('REDIS_URL is read with its fallback share and key prefix; a URL of another kind is refused without echoing it', () => {
  const config = loadConfig({ REDIS_URL: 'redis://:secret@127.0.0.1:6379/2', REDIS_FALLBACK_REPLICAS: '3', REDIS_KEY_PREFIX: 'prod:' });
  expect(config.redis).toEqual({ url: 'redis://:secret@127.0.0.1:6379/2', fallbackReplicas: 3, keyPrefix: 'prod:', leaseMs: 30_000 });
  expect(loadConfig({}).redis).toBeUndefined();
  expect(() => loadConfig({ REDIS_URL: 'http://:secret@host' })).toThrow(/REDIS_URL/);
  expect(() => loadConfig({ REDIS_URL: 'http://:secret@host' })).not.toThrow(/secret/);
  expect(() => loadConfig({ REDIS_URL: 'redis://h', REDIS_KEY_PREFIX: 'a{b}' })).toThrow(/REDIS_KEY_PREFIX/);
});

describeWithRedis('a replica whose Redis is cut off', () => {
  let proxy: TcpProxy;
  let server: TestServer;

  beforeAll(async () => {
    proxy = await TcpProxy.start();
    server = await startTestServer({ env: { REDIS_URL: proxy.url, REDIS_KEY_PREFIX: prefix, REDIS_FALLBACK_REPLICAS: '4', METRICS_TOKEN } });
  });
  afterAll(async () => {
    await server.close();
    await proxy.close();
  });

  const hello = { model: 'kimi-k2-0711-preview', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 5 };

  it('is ready and global while Redis answers', async () => {
    expect((await server.chat(hello)).status).toBe(200);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
    expect(await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text()).toMatch(/^moongate_redis_degraded 0$/m);
  });

  it('serves on, says so in /readyz and /metrics, and enforces its share of the limit', async () => {
    proxy.cut();
    const served = await server.chat(hello);
    expect(served.status).toBe(200);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { status: string; degraded: string[] };
    expect(body.status).toBe('ready');
    expect(body.degraded).toEqual([expect.stringMatching(/Redis is unreachable.*1\/4/)]);
    const metrics = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
    expect(metrics).toMatch(/^moongate_redis_degraded 1$/m);
    expect(metrics).toMatch(/^moongate_limit_fallback_admissions_total [1-9]/m);
    // Default limits 60 rps and 20 at once; a quarter of them is 15 rps and 5 at once, so of
    // 20 sent together (after the one above) some are refused, which the full limits would admit.
    const answers = await Promise.all(Array.from({ length: 20 }, () => server.chat(hello)));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(1);
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(15);
    expect(statuses.filter((s) => s !== 200).every((s) => s === 429)).toBe(true);
    await Promise.all(answers.map((r) => r.arrayBuffer()));
  });
});
