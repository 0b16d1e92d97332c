/**
 * The Redis client of one process (ioredis), from REDIS_URL (docs/scaling.md):
 *
 * - `redis://[:password@]host:port[/db]` or `rediss://...`: one Redis server;
 * - `redis-sentinel://[:password@]host1:26379,host2:26379/<master name>[?db=n]`: Sentinel,
 *   through ioredis's own support (it asks the sentinels for the master and follows failovers);
 * - `redis-cluster://[:password@]host1:7000,host2:7000`: Cluster, through ioredis's Cluster
 *   client. Every script's keys carry one hash tag, so each script runs within one slot.
 *
 * Commands fail at once while the connection is down (no offline queue) and after a short
 * timeout when Redis stops answering, so a request never waits on Redis: the limits fall
 * back to this process (see RedisRequestLimiter). The client reconnects by itself, forever.
 */
import { createRequire } from 'node:module';
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import { DIRECT_SCRIPT_COMMANDS } from './redis-request-limiter.js';

export type RedisClient = Redis | Cluster;

/**
 * ioredis, loaded on the first client: a process without REDIS_URL never loads it, which
 * keeps about 2 MiB of heap and compiled code out of every embedded server (docs/operations.md,
 * "Memory"). ioredis is CommonJS, so `require` loads it synchronously and openRedis stays sync.
 */
let ioredis: typeof import('ioredis') | undefined;
function loadIoredis(): typeof import('ioredis') {
  ioredis ??= createRequire(import.meta.url)('ioredis') as typeof import('ioredis');
  return ioredis;
}

/** Milliseconds a command may take before it counts as Redis being unreachable. */
export const REDIS_COMMAND_TIMEOUT_MS = 1_000;

const COMMON: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
  connectTimeout: 2_000,
  // Commands issued in the same event-loop turn go out as one write (one round trip per node).
  enableAutoPipelining: true,
  // The limiter's lease commands go out the moment they are issued, in that order: it batches
  // admissions and releases itself (one call per turn), and a renewal must not be overtaken by
  // a later release (redis-request-limiter.ts, DIRECT_SCRIPT_COMMANDS).
  autoPipeliningIgnoredCommands: [...DIRECT_SCRIPT_COMMANDS],
  // Back off to at most 1 s between attempts, and never give up: Redis coming back is recovery.
  retryStrategy: (times: number) => Math.min(times * 100, 1_000),
  lazyConnect: false,
};

export interface RedisTarget {
  mode: 'single' | 'sentinel' | 'cluster';
  hosts: Array<{ host: string; port: number }>;
  password: string | undefined;
  username: string | undefined;
  db: number;
  /** Sentinel's master name. */
  name: string | undefined;
  tls: boolean;
}

/** Reads REDIS_URL; throws (without echoing the URL, which may hold a password) when it is not one of the forms above. */
export function parseRedisUrl(text: string): RedisTarget {
  const match = /^(redis|rediss|redis-sentinel|redis-cluster):\/\/(?:([^@/]*)@)?([^/?#]+)(\/[^?#]*)?(\?[^#]*)?$/.exec(text);
  if (match === null) throw new Error('REDIS_URL must be redis://, rediss://, redis-sentinel:// or redis-cluster://');
  const [, scheme = '', auth, hostList = '', path = '', query = ''] = match;
  const hosts = hostList.split(',').map((entry) => {
    const at = entry.lastIndexOf(':');
    const host = at > 0 ? entry.slice(0, at) : entry;
    const port = at > 0 ? Number(entry.slice(at + 1)) : scheme === 'redis-sentinel' ? 26_379 : 6_379;
    if (host === '' || !Number.isInteger(port) || port < 1 || port > 65_535) throw new Error('REDIS_URL has a host that is not host:port');
    return { host: host.replace(/^\[(.*)\]$/, '$1'), port };
  });
  let username: string | undefined;
  let password: string | undefined;
  if (auth !== undefined && auth !== '') {
    const colon = auth.indexOf(':');
    username = colon < 0 ? undefined : decodeURIComponent(auth.slice(0, colon)) || undefined;
    password = decodeURIComponent(colon < 0 ? auth : auth.slice(colon + 1)) || undefined;
  }
  const params = new URLSearchParams(query);
  const segment = decodeURIComponent(path.replace(/^\//, ''));
  const mode = scheme === 'redis-sentinel' ? 'sentinel' : scheme === 'redis-cluster' ? 'cluster' : 'single';
  if (mode === 'single' && hosts.length !== 1) throw new Error('REDIS_URL names one host for a single Redis server');
  if (mode === 'sentinel' && segment === '') throw new Error('REDIS_URL for Sentinel ends with /<master name>');
  const dbText = mode === 'sentinel' ? (params.get('db') ?? '0') : mode === 'single' ? segment || '0' : '0';
  const db = Number(dbText);
  if (!Number.isInteger(db) || db < 0) throw new Error('REDIS_URL has a database number that is not a whole number');
  return { mode, hosts, password, username, db, name: mode === 'sentinel' ? segment : undefined, tls: scheme === 'rediss' };
}

/** Opens the client (it connects in the background; commands fail fast until it has). */
export function openRedis(url: string, options: { onError?: (error: Error) => void } = {}): RedisClient {
  const target = parseRedisUrl(url);
  const auth = {
    ...(target.password === undefined ? {} : { password: target.password }),
    ...(target.username === undefined ? {} : { username: target.username }),
  };
  const { Cluster, Redis } = loadIoredis();
  let client: RedisClient;
  if (target.mode === 'cluster') {
    client = new Cluster(target.hosts, {
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      autoPipeliningIgnoredCommands: [...DIRECT_SCRIPT_COMMANDS],
      clusterRetryStrategy: (times: number) => Math.min(times * 100, 1_000),
      redisOptions: { ...COMMON, ...auth },
    });
  } else if (target.mode === 'sentinel') {
    client = new Redis({ ...COMMON, ...auth, sentinels: target.hosts, name: target.name ?? '', db: target.db });
  } else {
    const [first] = target.hosts;
    client = new Redis({ ...COMMON, ...auth, host: first?.host ?? '127.0.0.1', port: first?.port ?? 6_379, db: target.db, ...(target.tls ? { tls: {} } : {}) });
  }
  // Without a listener ioredis prints every failed reconnect; the owner decides what to log.
  client.on('error', (error: Error) => options.onError?.(error));
  return client;
}

/**
 * A second connection like `client` with `options` on top (a subscriber, say): a Cluster
 * client duplicates with its startup nodes, a single one with its own options.
 */
export function duplicateRedis(client: RedisClient, options: RedisOptions): RedisClient {
  return client instanceof loadIoredis().Cluster ? client.duplicate(undefined, options) : client.duplicate(options);
}

/**
 * Resolves true once the client is connected, or false after `timeoutMs` (a Redis that is
 * down at start-up does not stop moongate from starting: the limits begin degraded).
 */
export function redisReady(client: RedisClient, timeoutMs: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ready: boolean): void => {
      clearTimeout(timer);
      client.off('ready', onReady);
      resolve(ready);
    };
    const onReady = (): void => done(true);
    const timer = setTimeout(() => done(false), timeoutMs);
    client.on('ready', onReady);
  });
}
