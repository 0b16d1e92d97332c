/**
 * The RequestLimiter of several processes: the limits live in Redis, so every replica
 * counts against the same ones (docs/scaling.md).
 *
 * - Admission is ONE script call: it takes several limit entries at once (the credential's
 *   and its person's), checks every one, and admits into all of them or none. Its keys all
 *   carry the same hash tag (the person), so on Redis Cluster they share a slot.
 * - The admissions asked for in one turn of the event loop go in one call per hash tag
 *   (`ADMIT_MANY`, each decided in order, as if sent one by one), and so do the releases:
 *   under load one command serves many requests, where each used to cost its own (the
 *   client's command objects, promises and reply parsing were most of what Redis admission
 *   cost this process; docs/benchmark.md, History, 2026-12-06 03:10).
 * - Concurrency is a lease per request: a member of a sorted set whose score is its expiry.
 *   The process renews its live leases every LEASE_MS / 3, and release removes them (in its
 *   turn's release call). The leases of a replica that died expire within LEASE_MS.
 * - Every command that writes a lease goes to Redis the moment it is issued, never through
 *   the client's auto-pipelining, so they reach Redis in the order this process issued them:
 *   a renewal issued before a release cannot land after it and bring the lease back.
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
import type { LimitDecision, LimitEntry, Permit, RequestLimiter, RequestLimits, SharedLimit } from './request-limiter.js';

/** A dead replica's concurrency slots come back within this time (docs/scaling.md). */
export const LEASE_MS = 30_000;
/** While degraded, Redis is asked this often whether it is back. */
const PROBE_MS = 1_000;
/** Admissions (or releases) one script call takes at most: a call blocks Redis while it runs. */
const MAX_BATCH = 256;
/** Lease ids of failed admission calls kept to release once Redis answers (past this, they expire within the lease time). */
const MAX_ORPHANS = 10_000;

/**
 * Several admissions, each all-or-none over its entries, decided in order. KEYS: the lease
 * sets and admission logs the batch names (one hash tag). ARGV: the lease time (ms), the
 * number of admissions, then per admission its lease id, its number of entries, and per
 * entry the index in KEYS of its lease set and of its log, its concurrency and its rps.
 * Returns per admission {1}, or {0, entry index, limit, retry-after}.
 */
const ADMIT_MANY = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local lease = tonumber(ARGV[1])
local results = {}
local at = 3
for r = 1, tonumber(ARGV[2]) do
  local id = ARGV[at]
  local n = tonumber(ARGV[at + 1])
  local first = at + 2
  at = first + 4 * n
  local refused = false
  for i = 1, n do
    local e = first + 4 * (i - 1)
    local leases = KEYS[tonumber(ARGV[e])]
    local log = KEYS[tonumber(ARGV[e + 1])]
    local concurrency = tonumber(ARGV[e + 2])
    local rps = tonumber(ARGV[e + 3])
    redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
    if redis.call('ZCARD', leases) >= concurrency then
      results[r] = {0, i, 'concurrency', 1}
      refused = true
      break
    end
    redis.call('ZREMRANGEBYSCORE', log, '-inf', now - 1000)
    local count = redis.call('ZCARD', log)
    if count >= rps then
      local oldest = redis.call('ZRANGE', log, count - rps, count - rps, 'WITHSCORES')
      local retry = math.ceil((tonumber(oldest[2]) + 1000 - now) / 1000)
      if retry < 1 then retry = 1 end
      results[r] = {0, i, 'rps', retry}
      refused = true
      break
    end
  end
  if not refused then
    for i = 1, n do
      local e = first + 4 * (i - 1)
      local leases = KEYS[tonumber(ARGV[e])]
      local log = KEYS[tonumber(ARGV[e + 1])]
      redis.call('ZADD', leases, now + lease, id)
      redis.call('PEXPIRE', leases, lease)
      redis.call('ZADD', log, now, id)
      redis.call('PEXPIRE', log, 1000)
    end
    results[r] = {1}
  end
end
return results
`;

/** KEYS: lease sets (one hash tag). ARGV: pairs of a lease set's index in KEYS and a lease id. */
const RELEASE_MANY = `
for i = 1, #ARGV, 2 do redis.call('ZREM', KEYS[tonumber(ARGV[i])], ARGV[i + 1]) end
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
  moongateAdmitMany(numberOfKeys: number, ...keysAndArgs: Array<string | number>): Promise<Array<Array<number | string>>>;
  moongateReleaseMany(numberOfKeys: number, ...keysAndArgs: Array<string | number>): Promise<number>;
  moongateRenew(numberOfKeys: number, ...keysAndArgs: Array<string | number>): Promise<number>;
}

/**
 * The script commands the client must send the moment they are issued (redis-connection.ts
 * leaves them out of its auto-pipelining). The limiter batches admissions and releases
 * itself, once per turn, and auto-pipelining would hold each for one more turn. And a lease
 * is written by all three: sent straight away, they reach Redis in the order issued, where
 * an auto-pipelined renewal could be overtaken by a later release and re-add its lease for
 * the whole lease time.
 */
export const DIRECT_SCRIPT_COMMANDS: readonly string[] = ['moongateAdmitMany', 'moongateReleaseMany', 'moongateRenew'];

/** One admission waiting for this turn's call. */
interface WaitingAdmission {
  /** The hash tag its keys carry (the person's id), as given. */
  hashTag: string;
  entries: readonly LimitEntry[];
  leaseId: string;
  /** Per entry, the names of its lease set and its admission log. */
  names: ReadonlyArray<readonly [leases: string, log: string]>;
  resolve(decision: LimitDecision | Promise<LimitDecision>): void;
}

/** What one hash tag's call of this turn carries: its keys, and admissions or releases against them. */
class TagBatch<T> {
  readonly keys: string[] = [];
  readonly #index = new Map<string, number>();
  readonly items: T[] = [];

  /** The key's index in KEYS (Lua counts from 1). */
  indexOf(key: string): number {
    let index = this.#index.get(key);
    if (index === undefined) {
      index = this.keys.push(key);
      this.#index.set(key, index);
    }
    return index;
  }
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
  /** This turn's admissions and releases, by hash tag, sent when the turn ends. */
  #admissions = new Map<string, TagBatch<WaitingAdmission>>();
  #releases = new Map<string, TagBatch<string>>();
  #sendScheduled = false;
  /** Key names by hash tag and entry key (a key name is three encodings and a template). */
  readonly #keyNames = new Map<string, readonly [string, string]>();
  #degraded = false;
  #closed = false;
  #fallbackAdmissions = 0;
  /**
   * Releases owed for admission calls that failed: Redis may have run the script before the
   * reply was lost (a timeout, a cut connection), leaving leases nobody renews or releases.
   * Sent at once, and again when Redis answers, until one call takes them.
   */
  #orphans: Array<TagBatch<string>> = [];
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
    this.#client.defineCommand('moongateAdmitMany', { lua: ADMIT_MANY });
    this.#client.defineCommand('moongateReleaseMany', { lua: RELEASE_MANY });
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
   * refusal names its limit. The call goes out at the end of this turn of the event loop,
   * with every other admission of the turn under the same tag.
   */
  acquireAll(entries: readonly LimitEntry[], hashTag: string): Promise<LimitDecision> {
    if (entries.length === 0) return Promise.reject(new Error('acquireAll needs at least one limit entry'));
    // An empty tag is no tag: Redis Cluster would hash each whole key, to different slots.
    if (hashTag === '') return Promise.reject(new Error('acquireAll needs a hash tag'));
    if (this.#degraded) return Promise.resolve(this.#acquireLocally(entries));
    const leaseId = `${this.#process}:${(this.#sequence += 1)}`;
    const names = entries.map((entry) => this.#keyNamesOf(hashTag, entry.key));
    return new Promise((resolve) => {
      const batch = this.#batchOf(this.#admissions, hashTag);
      batch.items.push({ hashTag, entries, leaseId, names, resolve });
      if (batch.items.length < MAX_BATCH) return this.#scheduleSend();
      // Full: it goes now, after the tag's releases asked so far (their places are free),
      // and the turn's next admissions under this tag start another.
      this.#admissions.delete(hashTag);
      const releases = this.#releases.get(hashTag);
      if (releases !== undefined) {
        this.#releases.delete(hashTag);
        this.#sendReleases(releases);
      }
      void this.#sendAdmissions(batch);
    });
  }

  /** The lease set and admission log of one entry under one hash tag, made once. */
  #keyNamesOf(hashTag: string, key: string): readonly [string, string] {
    const id = `${hashTag}\n${key}`;
    let names = this.#keyNames.get(id);
    if (names === undefined) {
      // Bounded: a busy process sees many callers; the names are cheap to make again.
      if (this.#keyNames.size >= 10_000) this.#keyNames.clear();
      const base = `${this.#prefix}{${encodeURIComponent(hashTag)}}:${encodeURIComponent(key)}`;
      names = [`${base}:leases`, `${base}:admitted`];
      this.#keyNames.set(id, names);
    }
    return names;
  }

  #batchOf<T>(batches: Map<string, TagBatch<T>>, tag: string): TagBatch<T> {
    let batch = batches.get(tag);
    if (batch === undefined) {
      batch = new TagBatch<T>();
      batches.set(tag, batch);
    }
    return batch;
  }

  #scheduleSend(): void {
    if (this.#sendScheduled) return;
    this.#sendScheduled = true;
    setImmediate(() => {
      this.#sendScheduled = false;
      const admissions = this.#admissions;
      const releases = this.#releases;
      this.#admissions = new Map();
      this.#releases = new Map();
      for (const batch of releases.values()) this.#sendReleases(batch);
      for (const batch of admissions.values()) void this.#sendAdmissions(batch);
    });
  }

  /** One call for a tag's admissions of this turn; each gets its own decision. */
  async #sendAdmissions(batch: TagBatch<WaitingAdmission>): Promise<void> {
    const args: Array<string | number> = [this.#leaseMs, batch.items.length];
    for (const waiting of batch.items) {
      args.push(waiting.leaseId, waiting.entries.length);
      waiting.entries.forEach(({ limits }, i) => {
        const [leases, log] = waiting.names[i] ?? ['', ''];
        args.push(batch.indexOf(leases), batch.indexOf(log), limits.concurrency, limits.rps);
      });
    }
    let replies: Array<Array<number | string>>;
    try {
      replies = await this.#scripts.moongateAdmitMany(batch.keys.length, ...batch.keys, ...args);
    } catch (error) {
      this.#enterDegraded(error);
      for (const waiting of batch.items) waiting.resolve(this.#acquireLocally(waiting.entries));
      this.#orphan(batch);
      return;
    }
    batch.items.forEach((waiting, i) => waiting.resolve(this.#decision(waiting, replies[i] ?? [])));
  }

  #decision(waiting: WaitingAdmission, reply: Array<number | string>): LimitDecision {
    if (reply[0] !== 1) {
      const limit = reply[2] === 'rps' ? 'rps' : 'concurrency';
      // Entries are numbered from 1 in the script; the first is the credential's.
      const scope = Number(reply[1]) > 1 ? 'person' : 'credential';
      return { admitted: false, limit, scope, retryAfter: Math.max(1, Number(reply[3]) || 1) };
    }
    const { hashTag, leaseId, names } = waiting;
    const leaseKeys = names.map(([leases]) => leases);
    this.#live.set(leaseId, leaseKeys);
    let released = false;
    const permit: Permit = {
      release: () => {
        if (released) return;
        released = true;
        this.#live.delete(leaseId);
        const batch = this.#batchOf(this.#releases, hashTag);
        for (const key of leaseKeys) batch.items.push(String(batch.indexOf(key)), leaseId);
        if (batch.items.length < 2 * MAX_BATCH) return this.#scheduleSend();
        this.#releases.delete(hashTag);
        this.#sendReleases(batch);
      },
    };
    return { admitted: true, permit };
  }

  /** One call for a tag's releases of this turn. If Redis cannot be told now, the leases expire by themselves within the lease time. */
  #sendReleases(batch: TagBatch<string>): void {
    this.#scripts.moongateReleaseMany(batch.keys.length, ...batch.keys, ...batch.items).catch(() => undefined);
  }

  /** The leases a failed admission call may have written, released as soon as Redis takes it. */
  #orphan(failed: TagBatch<WaitingAdmission>): void {
    const release = new TagBatch<string>();
    for (const waiting of failed.items) {
      for (const [leases] of waiting.names) release.items.push(String(release.indexOf(leases)), waiting.leaseId);
    }
    this.#orphans.push(release);
    // Past the bound the oldest go unsent: a lease expires within the lease time anyway.
    let owed = this.#orphans.reduce((leases, batch) => leases + batch.items.length / 2, 0);
    while (owed > MAX_ORPHANS && this.#orphans.length > 1) owed -= (this.#orphans.shift()?.items.length ?? 0) / 2;
    // At once: on a connection that is still up, it runs after the script, if that ran.
    void this.#releaseOrphans();
  }

  async #releaseOrphans(): Promise<void> {
    const owed = this.#orphans;
    this.#orphans = [];
    await Promise.all(
      owed.map((batch) =>
        this.#scripts.moongateReleaseMany(batch.keys.length, ...batch.keys, ...batch.items).catch(() => {
          if (this.#closed) return;
          this.#orphans.push(batch);
        }),
      ),
    );
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#heartbeat);
    clearInterval(this.#probe);
    this.#client.off('ready', this.#onReady);
    this.#fallback.close();
  }

  /** Degraded: each entry at this process's share of it, all admitted or none (one synchronous step). */
  #acquireLocally(entries: readonly LimitEntry[]): LimitDecision {
    this.#fallbackAdmissions += 1;
    return this.#fallback.acquireAll(
      entries.map(({ key, limits }) => ({
        key,
        limits: { concurrency: Math.ceil(limits.concurrency / this.#replicas), rps: Math.ceil(limits.rps / this.#replicas) },
      })),
    );
  }

  /**
   * Renews this process's live leases, a call each, sent at once (DIRECT_SCRIPT_COMMANDS);
   * the heartbeat calls it every lease time / 3. A lease Redis lost (it restarted empty) is
   * added back.
   */
  async renewLeases(): Promise<void> {
    const renewals = [...this.#live].map(([leaseId, keys]) => this.#scripts.moongateRenew(keys.length, ...keys, leaseId, this.#leaseMs));
    await Promise.all(renewals).catch(() => undefined);
  }

  #enterDegraded(error: unknown): void {
    // A call that fails once the limiter is closed (the client closing with it) is no outage.
    if (this.#degraded || this.#closed) return;
    this.#degraded = true;
    this.#onDegraded(true, error);
    this.#probe = setInterval(() => void this.#check(), PROBE_MS);
    this.#probe.unref();
  }

  /** Back to Redis when it answers; the live leases go back at once (it may have restarted empty). */
  async #check(): Promise<void> {
    if (!this.#degraded || this.#closed) return;
    try {
      await this.#client.ping();
    } catch {
      return;
    }
    if (!this.#degraded || this.#closed) return;
    this.#degraded = false;
    clearInterval(this.#probe);
    this.#probe = undefined;
    await Promise.all([this.#releaseOrphans(), this.renewLeases()]);
    this.#onDegraded(false);
  }
}
