/**
 * Figures 7 and 8 (issue 17, docs/scaling.md): what scale-out costs and gives, in the same run.
 *
 * 7. Redis-backed admission against in-memory admission: moongate started a second time,
 *    the same in every way (SQLite, the fake upstream, LOG_LEVEL=info) but with REDIS_URL
 *    (the Redis at BENCH_REDIS_URL, default 127.0.0.1:6379, under a key prefix of its own),
 *    measured in alternating rounds against the first: p50 one request at a time, and CPU
 *    per request at N connections (moongate's, and Redis's own from INFO cpu). Target
 *    (issue 20): moongate's CPU per request with Redis <= 1.15x its CPU without.
 * 8. Two replicas against one: two moongates on one PostgreSQL schema (BENCH_DATABASE_URL,
 *    default postgres://postgres@127.0.0.1:5432/test, a schema made for the run and dropped
 *    after) and that Redis; the loader alternates requests over their ports (a trivial
 *    round-robin balancer) or sends every request to the first.
 *
 * Every process shares the machine's cores (the loader, the fake upstream, PostgreSQL,
 * Redis, the replicas): on a 2-core machine two replicas cannot do twice what one does,
 * and the figure says what they do there. Without Redis (or PostgreSQL) the part that
 * needs it is skipped with a note.
 */
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { Redis } from 'ioredis';
import pg from 'pg';
import { type Bench, fixed, log, noteErrors, requestBody } from './bench-context.js';
import { ratioOf, type Row } from './bench-report.js';
import type { LoadResult } from './child-messages.js';
import { startMoongate, type MoongateProcess } from './moongate-process.js';
import { sampleProcess } from './process-sample.js';

/** Issue 20: Redis-backed admission costs at most 15% more of moongate's CPU per request than in-memory. */
export const REDIS_CPU_TARGET = 1.15;
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

interface Server {
  label: string;
  urls: string[];
  pids: number[];
  headers: Record<string, string>;
}

function serverOf(label: string, processes: readonly MoongateProcess[], token: string): Server {
  return {
    label,
    urls: processes.map((p) => `${p.url}/v1/chat/completions`),
    pids: processes.map((p) => p.pid),
    headers: { authorization: `Bearer ${token}` },
  };
}

async function cpuOf(pids: readonly number[]): Promise<number> {
  const samples = await Promise.all(pids.map((pid) => sampleProcess(pid)));
  return samples.reduce((sum, s) => sum + s.cpuUs, 0);
}

/** Redis's own CPU (user + system) since it started, in µs. */
async function redisCpuUs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const read = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
  return (read('used_cpu_user') + read('used_cpu_sys')) * 1_000_000;
}

interface Measured extends LoadResult {
  cpuUs: number;
  redisCpuUs: number;
}

async function measure(
  bench: Bench,
  server: Server,
  redis: Redis | undefined,
  options: { connections: number; durationMs: number; requests?: number },
): Promise<Measured> {
  const [url = '', ...alsoUrls] = server.urls;
  const before = await cpuOf(server.pids);
  const redisBefore = redis === undefined ? 0 : await redisCpuUs(redis);
  const result = await bench.loader.run({
    url,
    alsoUrls,
    body: requestBody(false),
    headers: { 'content-type': 'application/json', ...server.headers },
    stream: false,
    ...options,
  });
  const after = await cpuOf(server.pids);
  const redisAfter = redis === undefined ? 0 : await redisCpuUs(redis);
  return { ...result, cpuUs: after - before, redisCpuUs: redisAfter - redisBefore };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length === 0 ? Number.NaN : sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

function total(rounds: readonly Measured[]) {
  const requests = rounds.reduce((sum, r) => sum + r.requests, 0);
  const seconds = rounds.reduce((sum, r) => sum + r.durationMs, 0) / 1000;
  return {
    requests,
    errors: rounds.reduce((sum, r) => sum + r.errors, 0),
    rps: seconds === 0 ? Number.NaN : requests / seconds,
    p50Ms: median(rounds.map((r) => r.p50Ms)),
    p99Ms: median(rounds.map((r) => r.p99Ms)),
    cpuUsPerRequest: requests === 0 ? Number.NaN : rounds.reduce((sum, r) => sum + r.cpuUs, 0) / requests,
    redisCpuUsPerRequest: requests === 0 ? Number.NaN : rounds.reduce((sum, r) => sum + r.redisCpuUs, 0) / requests,
  };
}

/** Runs `rounds` rounds over the servers, alternating which goes first; returns each server's rounds. */
async function alternate(
  bench: Bench,
  servers: readonly Server[],
  redis: Redis | undefined,
  what: string,
  options: { connections: number; durationMs: number; requests?: number },
  notes: string[],
): Promise<Map<string, Measured[]>> {
  const rounds = bench.settings.rounds;
  const out = new Map<string, Measured[]>(servers.map((s) => [s.label, []]));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? servers : [...servers].reverse();
    for (const server of order) {
      const result = await measure(bench, server, redis, {
        connections: options.connections,
        durationMs: options.durationMs / rounds,
        ...(options.requests === undefined ? {} : { requests: Math.max(1, Math.round(options.requests / rounds)) }),
      });
      noteErrors(result, `${server.label} ${what}`, notes);
      out.get(server.label)?.push(result);
      log(
        `[scale] ${what} round ${round + 1}/${rounds}, ${server.label}: ${result.rps.toFixed(0)} req/s, p50 ${result.p50Ms.toFixed(2)} ms, ` +
          `${(result.cpuUs / Math.max(1, result.requests)).toFixed(0)} µs CPU/request`,
      );
    }
  }
  return out;
}

async function openRedis(notes: string[]): Promise<Redis | undefined> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
    return redis;
  } catch (error) {
    redis.disconnect();
    const line = `scale: no Redis at ${REDIS_URL} (${error instanceof Error ? error.message : String(error)}); figures 7 and 8 skipped (set BENCH_REDIS_URL)`;
    log(line);
    notes.push(line);
    return undefined;
  }
}

async function forgetKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

export async function phaseScale(bench: Bench, rows: Row[], figures: Record<string, unknown>, notes: string[]): Promise<void> {
  const { settings } = bench;
  const redis = await openRedis(notes);
  if (redis === undefined) return;
  const prefix = `bench:${randomBytes(4).toString('hex')}:`;
  const started: MoongateProcess[] = [];
  const cores = cpus().length;
  let schema: string | undefined;
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  try {
    // 7. The same moongate with REDIS_URL, against the one the other phases measured.
    log(`[scale] starting moongate with REDIS_URL (${REDIS_URL}, key prefix ${prefix})...`);
    const withRedis = await startMoongate(`${bench.upstreamUrl}/v1`, log, { env: { REDIS_URL, REDIS_KEY_PREFIX: prefix } });
    started.push(withRedis);
    const memory: Server = { label: 'in-memory admission', urls: [bench.moongate.url], pids: [bench.moongate.pid], headers: bench.moongate.headers };
    const onRedis = serverOf('Redis admission', [withRedis], withRedis.token);
    if (settings.warmupMs > 0) {
      for (const server of [memory, onRedis]) await measure(bench, server, undefined, { connections: settings.connections, durationMs: settings.warmupMs });
    }
    const sequential = await alternate(bench, [memory, onRedis], redis, 'one at a time', { connections: 1, durationMs: 60_000, requests: settings.sequentialRequests }, notes);
    const loaded = await alternate(bench, [memory, onRedis], redis, `${settings.connections} conns`, { connections: settings.connections, durationMs: settings.durationMs }, notes);
    const seqMemory = total(sequential.get(memory.label) ?? []);
    const seqRedis = total(sequential.get(onRedis.label) ?? []);
    const loadMemory = total(loaded.get(memory.label) ?? []);
    const loadRedis = total(loaded.get(onRedis.label) ?? []);
    const addedP50 = seqRedis.p50Ms - seqMemory.p50Ms;
    const redisCpuRatio = ratioOf(loadRedis.cpuUsPerRequest, loadMemory.cpuUsPerRequest);
    const row = (figure: string, unit: string, value: number, ratio: number | null = null): Row => ({ figure, unit, moongate: fixed(value), floor: null, bare: null, ratio, target: '', pass: null });
    rows.push(
      row('7. p50 one at a time, in-memory admission', 'ms', seqMemory.p50Ms),
      row('7. p50 one at a time, Redis admission', 'ms', seqRedis.p50Ms, ratioOf(seqRedis.p50Ms, seqMemory.p50Ms)),
      row('7. added p50 of Redis admission, one at a time', 'ms', addedP50),
      row(`7. CPU per request, in-memory admission, ${settings.connections} conns`, 'µs', loadMemory.cpuUsPerRequest),
      {
        ...row(`7. CPU per request, Redis admission, ${settings.connections} conns (moongate; ratio against in-memory)`, 'µs', loadRedis.cpuUsPerRequest, redisCpuRatio),
        target: `<= ${REDIS_CPU_TARGET.toFixed(2)}x`,
        pass: redisCpuRatio !== null && redisCpuRatio <= REDIS_CPU_TARGET,
      },
      row(`7. Redis's own CPU per request, ${settings.connections} conns`, 'µs', loadRedis.redisCpuUsPerRequest),
      row(`7. max req/s, in-memory admission, ${settings.connections} conns`, 'req/s', loadMemory.rps),
      row(`7. max req/s, Redis admission, ${settings.connections} conns`, 'req/s', loadRedis.rps, ratioOf(loadRedis.rps, loadMemory.rps)),
    );
    log(`  Redis admission adds ${addedP50.toFixed(3)} ms at p50 and ${(loadRedis.cpuUsPerRequest - loadMemory.cpuUsPerRequest).toFixed(0)} µs of moongate CPU per request (+ ${loadRedis.redisCpuUsPerRequest.toFixed(0)} µs in Redis)`);
    figures.redisAdmission = { redisUrl: REDIS_URL, sequential: { memory: seqMemory, redis: seqRedis, addedP50Ms: addedP50 }, loaded: { memory: loadMemory, redis: loadRedis } };
    await withRedis.stop();
    started.pop();

    // 8. Two replicas on PostgreSQL and Redis against one.
    try {
      await admin.connect();
    } catch (error) {
      const line = `scale: no PostgreSQL at ${DATABASE_URL.replace(/\/\/[^@/]*@/, '//***@')} (${error instanceof Error ? error.message : String(error)}); figure 8 skipped (set BENCH_DATABASE_URL)`;
      log(line);
      notes.push(line);
      return;
    }
    schema = `bench_${process.pid}_${randomBytes(4).toString('hex')}`;
    await admin.query(`create schema "${schema}"`);
    const url = new URL(DATABASE_URL);
    url.searchParams.set('options', `-c search_path=${schema}`);
    const env = { DATABASE_URL: url.toString(), REDIS_URL, REDIS_KEY_PREFIX: prefix, REDIS_FALLBACK_REPLICAS: '2' };
    log('[scale] starting two replicas on PostgreSQL and Redis...');
    const first = await startMoongate(`${bench.upstreamUrl}/v1`, log, { env });
    started.push(first);
    const second = await startMoongate(`${bench.upstreamUrl}/v1`, log, { env, token: first.token });
    started.push(second);
    const one = serverOf('one replica', [first], first.token);
    // Both pids for "one" too: the idle replica's CPU (heartbeats) counts against it, as it would in production.
    one.pids = [first.pid, second.pid];
    const two = serverOf('two replicas', [first, second], first.token);
    if (settings.warmupMs > 0) await measure(bench, two, undefined, { connections: settings.connections, durationMs: settings.warmupMs });
    const replicas = await alternate(bench, [one, two], redis, `${settings.connections} conns`, { connections: settings.connections, durationMs: settings.durationMs }, notes);
    const oneTotal = total(replicas.get(one.label) ?? []);
    const twoTotal = total(replicas.get(two.label) ?? []);
    const rpsRatio = ratioOf(twoTotal.rps, oneTotal.rps);
    rows.push(
      row(`8. max req/s, one replica (PostgreSQL + Redis), ${settings.connections} conns, ${cores} cores`, 'req/s', oneTotal.rps),
      row(`8. max req/s, two replicas (PostgreSQL + Redis), ${settings.connections} conns, ${cores} cores`, 'req/s', twoTotal.rps, rpsRatio),
      row('8. p50, one replica', 'ms', oneTotal.p50Ms),
      row('8. p50, two replicas', 'ms', twoTotal.p50Ms, ratioOf(twoTotal.p50Ms, oneTotal.p50Ms)),
      row('8. CPU per request, one replica (both processes)', 'µs', oneTotal.cpuUsPerRequest),
      row('8. CPU per request, two replicas (both processes)', 'µs', twoTotal.cpuUsPerRequest, ratioOf(twoTotal.cpuUsPerRequest, oneTotal.cpuUsPerRequest)),
    );
    notes.push(
      `figure 8: ${cores} cores for everything (loader, fake upstream, PostgreSQL, Redis, replicas); two replicas gave ${rpsRatio?.toFixed(2) ?? 'n/a'}x the req/s of one here, which measures this machine's cores, not how replicas scale on their own hosts`,
    );
    figures.replicas = { cores, databaseUrl: 'BENCH_DATABASE_URL (a schema of its own)', one: oneTotal, two: twoTotal, rounds: Object.fromEntries(replicas) };
  } finally {
    for (const proc of started.reverse()) await proc.stop();
    if (schema !== undefined) await admin.query(`drop schema if exists "${schema}" cascade`).catch(() => undefined);
    await admin.end().catch(() => undefined);
    await forgetKeys(redis, prefix).catch(() => undefined);
    redis.disconnect();
  }
}
