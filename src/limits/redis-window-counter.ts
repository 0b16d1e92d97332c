/**
 * A WindowCounter in Redis, so a throttle counts across every replica: one sorted set per
 * key (members unique per event, scores the event's time on Redis's clock), trimmed to the
 * window and capped in size on every call, and one script per call, so `take` counts,
 * checks and records atomically.
 *
 * Unlike the limiter, a throttle does not fall back to a local share when Redis is
 * unreachable: the calls reject, and the caller decides (the throttles let the attempt
 * through to their own in-memory counter; see docs/scaling.md).
 */
import { randomBytes } from 'node:crypto';
import type { RedisClient } from './redis-connection.js';
import type { WindowCounter } from './window-counter.js';

/** Events kept per key at most: the cost of a call stays bounded whatever a client sends. */
const MAX_EVENTS_PER_KEY = 10_000;

/**
 * KEYS[1]: the key's sorted set. ARGV: window (ms), max, mode (check | record | take), member, cap.
 * Returns the milliseconds to wait (0: under the limit; for take and record, counted).
 */
const WINDOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local window = tonumber(ARGV[1])
local max = tonumber(ARGV[2])
local mode = ARGV[3]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if mode ~= 'record' and count >= max then
  local oldest = redis.call('ZRANGE', KEYS[1], count - max, count - max, 'WITHSCORES')
  local wait = math.ceil(tonumber(oldest[2]) + window - now)
  if wait < 1 then wait = 1 end
  return wait
end
if mode ~= 'check' then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[5]) + 1))
  redis.call('PEXPIRE', KEYS[1], math.ceil(window))
end
return 0
`;

interface WindowScript {
  moongateWindow(key: string, windowMs: number, max: number, mode: 'check' | 'record' | 'take', member: string, cap: number): Promise<number>;
}

export class RedisWindowCounter implements WindowCounter {
  readonly #client: RedisClient;
  readonly #script: WindowScript;
  readonly #windowMs: number;
  readonly #prefix: string;
  readonly #process = randomBytes(6).toString('hex');
  #sequence = 0;

  /** `name` tells counters apart on one Redis (e.g. `login-email`); keys are `<prefix><name>:<key>`. */
  constructor(client: RedisClient, options: { name: string; windowMs: number; keyPrefix?: string }) {
    this.#client = client;
    this.#windowMs = options.windowMs;
    this.#prefix = `${options.keyPrefix ?? 'moongate:'}${options.name}:`;
    // Loaded once, called by SHA (EVAL again after Redis forgot it).
    this.#client.defineCommand('moongateWindow', { numberOfKeys: 1, lua: WINDOW });
    this.#script = this.#client as unknown as WindowScript;
  }

  waitMs(key: string, max: number): Promise<number> {
    return this.#call(key, max, 'check');
  }

  async record(key: string): Promise<void> {
    await this.#call(key, 0, 'record');
  }

  take(key: string, max: number): Promise<number> {
    return this.#call(key, max, 'take');
  }

  async forget(key: string): Promise<void> {
    await this.#client.del(this.#key(key));
  }

  #call(key: string, max: number, mode: 'check' | 'record' | 'take'): Promise<number> {
    const member = `${this.#process}:${(this.#sequence += 1)}`;
    return this.#script.moongateWindow(this.#key(key), this.#windowMs, max, mode, member, MAX_EVENTS_PER_KEY).then(Number);
  }

  #key(key: string): string {
    // Braces in a key (an email may hold them) would make a hash tag of part of it; encoding
    // them keeps distinct keys distinct.
    return `${this.#prefix}${encodeURIComponent(key)}`;
  }
}
