/**
 * With REDIS_URL: the Redis client and the limiter every replica shares, their readiness
 * note and metrics. Redis being down at start-up does not stop the server: the limits start
 * degraded (this replica's share) and go global when Redis answers.
 */
import type { Logger } from 'pino';
import type { RedisConfig } from '../config.js';
import type { ReadinessCheck } from '../observability/readiness-check.js';
import type { Metrics } from '../observability/metrics.js';
import { openRedis, redisReady, type RedisClient } from './redis-connection.js';
import { RedisRequestLimiter } from './redis-request-limiter.js';
import { RedisChangeBus } from './change-bus.js';

/** How long start-up waits for a first connection before starting degraded. */
const CONNECT_WAIT_MS = 2_000;

export interface RedisLimits {
  client: RedisClient;
  limiter: RedisRequestLimiter;
  /** "Something changed" messages every replica hears (caches drop what they name). */
  changes: RedisChangeBus;
  readiness: ReadinessCheck;
  /** After the limiter is closed: disconnects. */
  close(): Promise<void>;
}

export async function startRedisLimits(config: RedisConfig, logger: Logger | undefined, metrics: Metrics): Promise<RedisLimits> {
  // Reconnect errors repeat every second while Redis is down; the limiter's one warning says it.
  const client = openRedis(config.url, { onError: (error) => logger?.debug({ err: error }, 'Redis connection error') });
  await redisReady(client, CONNECT_WAIT_MS);
  const share = `1/${config.fallbackReplicas}`;
  const limiter = new RedisRequestLimiter({
    client,
    keyPrefix: config.keyPrefix,
    fallbackReplicas: config.fallbackReplicas,
    leaseMs: config.leaseMs,
    onDegraded: (degraded, error) => {
      if (degraded) logger?.warn({ err: error }, `Redis is unreachable: limits are enforced by this replica alone, at ${share} of each`);
      else logger?.info('Redis answers again: limits are global again');
    },
  });
  const changes = new RedisChangeBus(client, {
    keyPrefix: config.keyPrefix,
    onError: (error) => logger?.debug({ err: error }, 'change bus connection error'),
  });
  // Like the limits: a Redis that is down does not stop the start; the bus subscribes when it
  // answers, and its reconnect tells every cache to forget what it holds.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    changes.ready().catch((error: unknown) => logger?.debug({ err: error }, 'change bus subscription failed; retried on reconnect')),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, CONNECT_WAIT_MS))),
  ]);
  clearTimeout(timer);
  metrics.registerRedisLimits(() => ({ degraded: limiter.degraded, fallbackAdmissions: limiter.fallbackAdmissions }));
  return {
    client,
    limiter,
    changes,
    readiness: {
      name: 'Redis',
      check: () =>
        Promise.resolve(limiter.degraded ? `Redis is unreachable: limits are enforced per replica, at ${share} of each` : undefined),
    },
    close: async () => {
      await changes.close();
      await client.quit().catch(() => client.disconnect());
    },
  };
}
