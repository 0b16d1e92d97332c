/**
 * The CLI's word to running servers that a credential or a person changed. With REDIS_URL it
 * publishes on the servers' change bus, so every replica drops what it cached at once.
 * Without Redis the CLI cannot reach the server (another process): the server's credential
 * cache keeps an entry for at most 1 s, so the change applies within that
 * (docs/security.md, "Credential cache"). A Redis that does not answer only delays it so.
 */
import { randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import { publishChange, type Change } from '../limits/change-bus.js';
import { openRedis, redisReady } from '../limits/redis-connection.js';

const CONNECT_WAIT_MS = 2_000;

export async function announceChange(config: Readonly<Pick<Config, 'redis'>>, change: Change): Promise<void> {
  if (config.redis === undefined) return;
  const client = openRedis(config.redis.url, { onError: () => undefined });
  try {
    if (!(await redisReady(client, CONNECT_WAIT_MS))) throw new Error('Redis did not answer');
    await publishChange(client, config.redis.keyPrefix, change, `cli-${randomBytes(8).toString('hex')}`);
  } catch {
    process.stderr.write('moongate: warning: could not tell the servers through Redis; the change applies within 1 s.\n');
  } finally {
    client.disconnect();
  }
}
