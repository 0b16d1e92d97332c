/**
 * The RequestLimiter of several processes: the limits live in Redis, so every replica
 * counts against the same ones (docs/scaling.md).
 *
 * - Admission is ONE script call: it takes several limit entries at once (the credential's
 *   and its person's), checks every one, and admits into all of them or none. Its keys all
 *   carry the same hash tag (the person), so on Redis Cluster they share a slot.
 * - Concurrency is a lease per request: a member of a sorted set whose score is its expiry.
 *   The process renews its live leases every LEASE_MS / 3 (one pipelined call), and release
 *   removes them (one call). The leases of a replica that died expire within LEASE_MS.
 * - Requests per second is a sliding-window log in the same script, with the in-memory
 *   limiter's semantics: no one-second window, wherever it starts, admits more than the
 *   limit, and retry-after is whole seconds, at least 1.
 * - Time is Redis's (TIME inside the script), never a replica's clock.
 *
 * When Redis cannot be reached (down, restarted, too slow), admission does not fail: this
 * process enforces each limit locally at `ceil(limit / fallbackReplicas)` (never unlimited)
 * until Redis answers again, and says so (onDegraded; the server logs it, counts it in a
 * metric and reports it in /readyz). A restarted Redis is empty: the live leases of every
 * replica come back with its next heartbeat.
 */
import { randomBytes } from 'node:crypto';
import { MemoryRequestLimiter } from './memory-request-limiter.js';
import type { RedisClient } from './redis-connection.js';
import type { LimitDecision, Permit, RequestLimiter, RequestLimits, SharedLimit } from './request-limiter.js';

/** A dead replica's concurrency slots come back within this time (docs/scaling.md). */
export const LEASE_MS = 30_000;
/** While degraded, Redis is asked this often whether it is back. */
const PROBE_MS = 1_000;

/** One limit an admission must pass: a key (a credential, a person) and its limits. */
export interface LimitEntry {
  key: string;
  limits: RequestLimits;
}

/**
 * KEYS: per entry, its lease set then its admission log. ARGV: the lease id, the lease time
 * (ms), then per entry its concurrency and rps. Returns {1}, or {0, entry index, limit, retry-after}.
 */
const ADMIT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local id = ARGV[1]
local lease = tonumber(ARGV[2])
local n = #KEYS / 2
for i = 1, n do
  local leases = KEYS[2 * i - 1]
  local log = KEYS[2 * i]
  local concurrency = tonumber(ARGV[2 * i + 1])
  local rps = tonumber(ARGV[2 * i + 2])
  redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
  if redis.call('ZCARD', leases) >= concurrency then return {0, i, 'concurrency', 1} end
  redis.call('ZREMRANGEBYSCORE', log, '-inf', now - 1000)
  local count = redis.call('ZCARD', log)
  if count >= rps then
    local oldest = redis.call('ZRANGE', log, count - rps, count - rps, 'WITHSCORES')
    local retry = math.ceil((tonumber(oldest[2]) + 1000 - now) / 1000)
    if retry < 1 then retry = 1 end
    return {0, i, 'rps', retry}
  end
end
for i = 1, n do
  redis.call('ZADD', KEYS[2 * i - 1], now + lease, id)
  redis.call('PEXPIRE', KEYS[2 * i - 1], lease)
  redis.call('ZADD', KEYS[2 * i], now, id)
  redis.call('PEXPIRE', KEYS[2 * i], 1000)
end
return {1}
`;

/** KEYS: lease sets. ARGV: the lease id. */
const RELEASE = `
for i = 1, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
return 1
`;

/** KEYS: lease sets. ARGV: the lease id, the lease time (ms). Re-adds a lease an empty (restarted) Redis lost. */
const RENEW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local lease = tonumber(ARGV[2])
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], now + lease, ARGV[1])
  redis.call('PEXPIRE', KEYS[i], lease)
end
return 1
`;

interface LimiterScripts {
  moongateAdmit(numberOfKeys: number, ...keysAndArgs: Array<string | number>): Promise<Array<number | string>>;
  moongateRelease(numberOfKeys: number, ...keysAndArgs: string[]): Promise<number>;
  moongateRenew(numberOfKeys: number, ...keysAndArgs: Array<string | number>): Promise<number>;
}

export interface RedisRequestLimiterOptions {
  client: RedisClient;
  /** Prepended to every key, e.g. `moongate:` (several deployments, or test files, on one Redis). */
  keyPrefix?: string;
  /** Replicas the limits are shared by while Redis is unreachable (REDIS_FALLBACK_REPLICAS). */
  fallbackReplicas: number;
  leaseMs?: number;
  /** Told when admission falls back to this process (with the error) and when Redis is back. */
  onDegraded?: (degraded: boolean, error?: unknown) => void;
  /** The in-memory limiter used while degraded (tests inject one with a fake clock). */
  fallback?: MemoryRequestLimiter;
}

export class RedisRequestLimiter implements RequestLimiter {
  readonly #client: RedisClient;
  readonly #scripts: LimiterScripts;
  readonly #prefix: string;
  readonly #leaseMs: number;
  readonly #replicas: number;
  readonly #fallback: MemoryRequestLimiter;
  readonly #onDegraded: (degraded: boolean, error?: unknown) => void;
  /** Live leases of this process: lease id → its lease-set keys. */
  readonly #live = new Map<string, string[]>();
  readonly #process = randomBytes(6).toString('hex');
  readonly #heartbeat: NodeJS.Timeout;
  #probe: NodeJS.Timeout | undefined;
  #sequence = 0;
  #degraded = false;
  #fallbackAdmissions = 0;
  readonly #onReady = (): void => void this.#check();

  constructor(options: RedisRequestLimiterOptions) {
    this.#client = options.client;
    this.#prefix = options.keyPrefix ?? 'moongate:';
    if (/[{}]/.test(this.#prefix)) throw new Error('the Redis key prefix must not contain { or }: they would change the hash tag');
    this.#leaseMs = options.leaseMs ?? LEASE_MS;
    this.#replicas = options.fallbackReplicas;
    this.#fallback = options.fallback ?? new MemoryRequestLimiter();
    this.#onDegraded = options.onDegraded ?? (() => undefined);
    // defineCommand loads each script once and calls it by SHA (EVALSHA), falling back to
    // EVAL when Redis does not know it (after a restart: a restarted Redis is empty).
    this.#client.defineCommand('moongateAdmit', { lua: ADMIT });
    this.#client.defineCommand('moongateRelease', { lua: RELEASE });
    this.#client.defineCommand('moongateRenew', { lua: RENEW });
    this.#scripts = this.#client as unknown as LimiterScripts;
    this.#heartbeat = setInterval(() => void this.renewLeases(), Math.max(1, Math.floor(this.#leaseMs / 3)));
    this.#heartbeat.unref();
    this.#client.on('ready', this.#onReady);
  }

  /** True while limits are enforced by this process alone (Redis unreachable). */
  get degraded(): boolean {
    return this.#degraded;
  }

  /** Admissions decided locally because Redis could not be reached, since start. */
  get fallbackAdmissions(): number {
    return this.#fallbackAdmissions;
  }

  /**
   * The credential's place and, when given, its person's, in one script: both or neither.
   * The person's id is the hash tag, so both keys share one Cluster slot.
   */
  acquire(key: string, limits: RequestLimits, shared?: SharedLimit): Promise<LimitDecision> {
    if (shared === undefined) return this.acquireAll([{ key, limits }], key);
    // Person keys live in their own namespace, whatever the ids look like (as in memory).
    return this.acquireAll([{ key, limits }, { key: `person:${shared.key}`, limits: shared.limits }], shared.key);
  }

  /**
   * Admits into every entry or none, in one round trip. `hashTag` (the person's id) goes in
   * every key, so they share one Cluster slot; entries are checked in order, and the first
   * refusal names its limit.
   */
  async acquireAll(entries: readonly LimitEntry[], hashTag: string): Promise<LimitDecision> {
    if (entries.length === 0) throw new Error('acquireAll needs at least one limit entry');
    if (this.#degraded) return this.#acquireLocally(entries);
    const leaseId = `${this.#process}:${(this.#sequence += 1)}`;
    const tag = `{${encodeURIComponent(hashTag)}}`;
    const leaseKeys = entries.map((entry) => `${this.#prefix}${tag}:${encodeURIComponent(entry.key)}:leases`);
    const keys = entries.flatMap((entry, i) => [leaseKeys[i] ?? '', `${this.#prefix}${tag}:${encodeURIComponent(entry.key)}:admitted`]);
    const args = entries.flatMap((entry) => [entry.limits.concurrency, entry.limits.rps]);
    let reply: Array<number | string>;
    try {
      reply = await this.#scripts.moongateAdmit(keys.length, ...keys, leaseId, this.#leaseMs, ...args);
    } catch (error) {
      this.#enterDegraded(error);
      return this.#acquireLocally(entries);
    }
    if (reply[0] !== 1) {
      const limit = reply[2] === 'rps' ? 'rps' : 'concurrency';
      // Entries are numbered from 1 in the script; the first is the credential's.
      const scope = Number(reply[1]) > 1 ? 'person' : 'credential';
      return { admitted: false, limit, scope, retryAfter: Math.max(1, Number(reply[3]) || 1) };
    }
    this.#live.set(leaseId, leaseKeys);
    let released = false;
    const permit: Permit = {
      release: () => {
        if (released) return;
        released = true;
        this.#live.delete(leaseId);
        // If Redis cannot be told now, the lease expires by itself within the lease time.
        this.#scripts.moongateRelease(leaseKeys.length, ...leaseKeys, leaseId).catch(() => undefined);
      },
    };
    return { admitted: true, permit };
  }

  close(): void {
    clearInterval(this.#heartbeat);
    clearInterval(this.#probe);
    this.#client.off('ready', this.#onReady);
    this.#fallback.close();
  }

  /** Degraded: each entry at this process's share of it, all admitted or none. */
  async #acquireLocally(entries: readonly LimitEntry[]): Promise<LimitDecision> {
    this.#fallbackAdmissions += 1;
    const taken: Permit[] = [];
    for (const [index, entry] of entries.entries()) {
      const decision = await this.#fallback.acquire(entry.key, {
        concurrency: Math.ceil(entry.limits.concurrency / this.#replicas),
        rps: Math.ceil(entry.limits.rps / this.#replicas),
      });
      if (!decision.admitted) {
        for (const permit of taken) permit.release();
        return { ...decision, scope: index > 0 ? 'person' : 'credential' };
      }
      taken.push(decision.permit);
    }
    let released = false;
    return {
      admitted: true,
      permit: {
        release: () => {
          if (released) return;
          released = true;
          for (const permit of taken) permit.release();
        },
      },
    };
  }

  /**
   * Renews this process's live leases in one pipelined call (ioredis auto-pipelining: one
   * write per node); the heartbeat calls it every lease time / 3. A lease Redis lost (it
   * restarted empty) is added back.
   */
  async renewLeases(): Promise<void> {
    const renewals = [...this.#live].map(([leaseId, keys]) => this.#scripts.moongateRenew(keys.length, ...keys, leaseId, this.#leaseMs));
    await Promise.all(renewals).catch(() => undefined);
  }

  #enterDegraded(error: unknown): void {
    if (this.#degraded) return;
    this.#degraded = true;
    this.#onDegraded(true, error);
    this.#probe = setInterval(() => void this.#check(), PROBE_MS);
    this.#probe.unref();
  }

  /** Back to Redis when it answers; the live leases go back at once (it may have restarted empty). */
  async #check(): Promise<void> {
    if (!this.#degraded) return;
    try {
      await this.#client.ping();
    } catch {
      return;
    }
    if (!this.#degraded) return;
    this.#degraded = false;
    clearInterval(this.#probe);
    this.#probe = undefined;
    await this.renewLeases();
    this.#onDegraded(false);
  }
}
