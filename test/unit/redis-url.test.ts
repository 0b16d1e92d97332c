import { describe, expect, it } from 'vitest';
import { parseRedisUrl } from '../../src/limits/redis-connection.js';
import { loadConfig } from '../../src/config.js';

describe('parseRedisUrl', () => {
  it('reads a single server, with password and database', () => {
    expect(parseRedisUrl('redis://:s%40cret@cache.internal:6380/3')).toEqual({
      mode: 'single',
      hosts: [{ host: 'cache.internal', port: 6380 }],
      password: 's@cret',
      username: undefined,
      db: 3,
      name: undefined,
      tls: false,
    });
    expect(parseRedisUrl('rediss://user:pw@h')).toMatchObject({ hosts: [{ host: 'h', port: 6379 }], username: 'user', password: 'pw', tls: true, db: 0 });
  });

  it('reads Sentinel: the sentinels, the master name and the database', () => {
    expect(parseRedisUrl('redis-sentinel://:pw@s1:26379,s2/mymaster?db=2')).toMatchObject({
      mode: 'sentinel',
      hosts: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26379 },
      ],
      name: 'mymaster',
      db: 2,
      password: 'pw',
    });
  });

  it('reads Cluster seed nodes', () => {
    expect(parseRedisUrl('redis-cluster://a:7000,b:7001')).toMatchObject({ mode: 'cluster', hosts: [{ host: 'a', port: 7000 }, { host: 'b', port: 7001 }] });
  });

  it('refuses what it cannot use, without echoing the URL', () => {
    for (const bad of ['http://:pw@h', 'redis://a:1,b:2', 'redis-sentinel://:pw@s1', 'redis://:pw@h:99999', 'redis://h/x']) {
      expect(() => parseRedisUrl(bad)).toThrow();
      expect(() => parseRedisUrl(bad)).not.toThrow(/pw/);
    }
  });
});

describe('lease settings', () => {
  it('default to 30 s (Redis places) and 60 s (PostgreSQL holds), and take whole milliseconds within bounds', () => {
    const plain = loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(plain.redis?.leaseMs).toBe(30_000);
    expect(plain.billing.instanceLeaseMs).toBe(60_000);
    const short = loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_LEASE_MS: '1500', MOONGATE_INSTANCE_LEASE_MS: '5000' });
    expect(short.redis?.leaseMs).toBe(1_500);
    expect(short.billing.instanceLeaseMs).toBe(5_000);
    for (const env of [{ REDIS_LEASE_MS: '50' }, { REDIS_LEASE_MS: '1.5' }, { MOONGATE_INSTANCE_LEASE_MS: '1000' }]) {
      expect(() => loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', ...env })).toThrow(/invalid environment: (REDIS_LEASE_MS|MOONGATE_INSTANCE_LEASE_MS)/);
    }
  });
});
