/**
 * The login throttle's failure counts in Redis, so that every replica counts the same
 * attempts (limits/login-throttle.ts keeps the rules; this is its shared memory). Two sorted
 * sets per attempt, the email's and the address's, checked and counted in one script: when
 * either is at its limit, neither is counted (as in memory), so attempts refused for the
 * address do not lock the email's owner out. Times are Redis's clock; sets are trimmed to the
 * window and capped in size on every call.
 *
 * The calls reject while Redis is unreachable; the throttle then counts in this process.
 */
import { randomBytes } from 'node:crypto';
import type { RedisClient } from './redis-connection.js';

/** Events kept per key at most: the cost of a call stays bounded whatever a client sends. */
const MAX_EVENTS_PER_KEY = 10_000;

/**
 * KEYS: the email's set, the address's set. ARGV: window (ms), max per email, max per
 * address, member, cap. Returns the milliseconds to wait (0: counted on both).
 */
const BEGIN = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local window = tonumber(ARGV[1])
local wait = 0
for i = 1, 2 do
  local max = tonumber(ARGV[i + 1])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  local count = redis.call('ZCARD', KEYS[i])
  if count >= max then
    local oldest = redis.call('ZRANGE', KEYS[i], count - max, count - max, 'WITHSCORES')
    local w = math.ceil(tonumber(oldest[2]) + window - now)
    if w < 1 then w = 1 end
    if w > wait then wait = w end
  end
end
if wait > 0 then return wait end
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], now, ARGV[4])
  redis.call('ZREMRANGEBYRANK', KEYS[i], 0, -(tonumber(ARGV[5]) + 1))
  redis.call('PEXPIRE', KEYS[i], math.ceil(window))
end
return 0
`;

interface BeginScript {
  moongateLoginBegin(emailKey: string, addressKey: string, windowMs: number, maxPerEmail: number, maxPerAddress: number, member: string, cap: number): Promise<number>;
}

export interface LoginLimits {
  windowMs: number;
  maxPerEmail: number;
  maxPerAddress: number;
}

/** What the login throttle needs from a shared counter. */
export interface SharedLoginCounter {
  /** Counts one attempt on both keys, or (resolving the wait in ms) on neither. Resolves the attempt's id with wait 0. */
  begin(email: string, address: string, limits: LoginLimits): Promise<{ wait: number; id: string }>;
  /** A success: the email's failures are forgotten, and this attempt leaves the address's count. */
  succeeded(email: string, address: string, id: string): Promise<void>;
}

export class RedisLoginCounter implements SharedLoginCounter {
  readonly #client: RedisClient;
  readonly #script: BeginScript;
  readonly #prefix: string;
  readonly #process = randomBytes(6).toString('hex');
  #sequence = 0;

  constructor(client: RedisClient, options: { keyPrefix?: string } = {}) {
    this.#client = client;
    this.#prefix = `${options.keyPrefix ?? 'moongate:'}login:`;
    this.#client.defineCommand('moongateLoginBegin', { numberOfKeys: 2, lua: BEGIN });
    this.#script = this.#client as unknown as BeginScript;
  }

  async begin(email: string, address: string, limits: LoginLimits): Promise<{ wait: number; id: string }> {
    const id = `${this.#process}:${(this.#sequence += 1)}`;
    const wait = await this.#script.moongateLoginBegin(
      this.#key('e', email),
      this.#key('a', address),
      limits.windowMs,
      limits.maxPerEmail,
      limits.maxPerAddress,
      id,
      MAX_EVENTS_PER_KEY,
    );
    return { wait: Number(wait), id };
  }

  async succeeded(email: string, address: string, id: string): Promise<void> {
    await this.#client.multi().del(this.#key('e', email)).zrem(this.#key('a', address), id).exec();
  }

  #key(kind: 'e' | 'a', key: string): string {
    // Braces in a key (an email may hold them) would make a hash tag of part of it; encoding keeps keys apart.
    return `${this.#prefix}${kind}:${encodeURIComponent(key)}`;
  }
}
