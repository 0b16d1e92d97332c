/**
 * What the garbage collector does per request: moongate (and the work floor, for the same
 * request) started with node's `--trace-gc-nvp`, which prints one line per collection on
 * stdout, under a load of wrk; the lines of the measured seconds are summed. A figure is
 * bytes or microseconds per request:
 *
 * - promoted: bytes a scavenge moved to the old generation. An object is promoted when it is
 *   still alive at two scavenges in a row; a request's objects should die before their
 *   second one, and promoted bytes that die there wait for a full collection (mark-compact)
 *   and cost its marking and sweeping;
 * - survived: V8's `new_space_survived`, bytes still alive at a scavenge (the requests in
 *   flight; usually the promoted too, though not always: a short run once read 16 times
 *   more promoted than survived);
 * - old grown: what the heap grew by from one scavenge to the next (pairs with no full
 *   collection between), which is the promoted bytes plus what was allocated in the old
 *   generation directly and never counted as promoted (V8 gives a long-lived Map or Set its
 *   new table there: docs/benchmark.md, "Old-space garbage"). Read it with `--rate`: at a
 *   closed loop's pace the requests in flight at each scavenge blur it;
 * - the scavenges' pause, and the mark-compacts' count and pause.
 *
 * A change in how long a request's objects live shows here before it shows in the CPU
 * (docs/benchmark.md, "How long a request's objects live"). The work floor reads the same
 * promoted bytes within a few percent from run to run; moongate did not until it ran without
 * V8's allocation-site pretenuring (2026-12-06: 1.2 KB in some runs, 5 to 7 KB in others), so
 * read two runs before trusting a change.
 *
 *   npm run build && npm run bench:build
 *   node bench/dist/gc-promotion.js [--servers moongate,work] [--load non-stream|stream|1mb]
 *                                   [--connections 32] [--seconds 4] [--rate N] [--env K=V,K=V] [--json] [--phases]
 *
 * `--rate N` sends N requests a second (an open loop over the connections, as the memory
 * soak's 200 stream requests a second) instead of wrk's closed loop.
 *
 * `--phases` adds the scavenges' own fields, summed and per request: the time of each of
 * their phases (`scavenge.parallel`, `scavenge.roots`, ... and the helper threads'
 * `background.scavenge.parallel`, which the process's CPU counts too) and their sizes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { envOf, requestBody } from './bench-context.js';
import { forkBenchChild, nextMessage, stopChild } from './bench-child.js';
import { startMoongate, WORK_FLOOR, type MoongateProcess } from './moongate-process.js';
import { promptWithMarker } from './phase-prompt.js';
import { hasWrk, installWrk, runWrk } from './wrk-load.js';

const LOADS = ['non-stream', 'stream', '1mb'] as const;
type Load = (typeof LOADS)[number];

const { values } = parseArgs({
  options: {
    servers: { type: 'string', default: 'moongate,work' },
    load: { type: 'string', default: 'non-stream' },
    connections: { type: 'string', default: '32' },
    seconds: { type: 'string', default: '4' },
    json: { type: 'boolean', default: false },
    phases: { type: 'boolean', default: false },
    env: { type: 'string' },
    rate: { type: 'string' },
  },
});
/** `--env K=V,K=V`: set in each server's environment (LOG_LEVEL=warn, say). */
const serverEnv = envOf(values.env);
const load = values.load as Load;
if (!LOADS.includes(load)) throw new Error(`--load must be one of ${LOADS.join(', ')}`);
const servers = values.servers.split(',');
for (const server of servers) if (server !== 'moongate' && server !== 'work') throw new Error(`--servers takes moongate and work, not ${server}`);
if (load === 'stream' && servers.includes('work')) throw new Error('the work floor answers non-stream requests only');
const connections = Number(values.connections);
const seconds = Number(values.seconds);
if (!Number.isInteger(connections) || connections < 1) throw new Error('--connections must be a positive integer');
if (!(seconds >= 1)) throw new Error('--seconds must be at least 1');
/** `--rate N`: an open loop of N requests a second over the connections (the soak's load), instead of wrk's closed loop. */
const rate = values.rate === undefined ? undefined : Number(values.rate);
if (rate !== undefined && !(rate > 0)) throw new Error('--rate must be a positive number of requests a second');
// As `npm run bench` does for a full run: Debian's wrk, installed when missing (as root).
if (!hasWrk() && !installWrk((line) => console.error(line))) throw new Error('wrk is needed (apt-get install -y wrk)');

/** The sums of the collections seen so far. */
interface GcTotals {
  /** What the heap grew by from one scavenge to the next, summed over pairs with no full collection between: promoted bytes and what was allocated in the old generation directly. */
  oldGrowth: number;
  scavenges: number;
  scavengeMs: number;
  promoted: number;
  survived: number;
  markCompacts: number;
  markCompactMs: number;
}

/** Reads --trace-gc-nvp lines (`key=value` pairs) out of a stdout that also carries the access log. */
class GcLines {
  readonly totals: GcTotals = { oldGrowth: 0, scavenges: 0, scavengeMs: 0, promoted: 0, survived: 0, markCompacts: 0, markCompactMs: 0 };
  /** Every numeric field of the scavenges' lines, summed (their phases' times, `--phases`). */
  readonly scavengeFields = new Map<string, number>();
  #partial = '';
  /** The heap's size after the last scavenge, or undefined after a full collection. */
  #lastSizeAfter: number | undefined;

  take(part: string): void {
    const lines = (this.#partial + part).split('\n');
    this.#partial = lines.pop() ?? '';
    for (const line of lines) this.#line(line);
  }

  #line(line: string): void {
    const kind = / gc=(\w+)/.exec(line)?.[1];
    if (kind === undefined) return;
    const field = (name: string): number => Number(new RegExp(` ${name}=([\\d.]+)`).exec(line)?.[1] ?? 0);
    const t = this.totals;
    if (kind === 's') {
      t.scavenges++;
      t.scavengeMs += field('pause');
      t.promoted += field('promoted');
      t.survived += field('new_space_survived');
      const sizeAfter = field('total_size_after');
      if (this.#lastSizeAfter !== undefined) t.oldGrowth += sizeAfter - this.#lastSizeAfter;
      this.#lastSizeAfter = sizeAfter;
      for (const [, key, value] of line.matchAll(/ ([\w.]+)=([\d.]+)/g)) {
        this.scavengeFields.set(key as string, (this.scavengeFields.get(key as string) ?? 0) + Number(value));
      }
    } else if (kind === 'mc' || kind === 'ms') {
      t.markCompacts++;
      t.markCompactMs += field('pause');
      this.#lastSizeAfter = undefined;
    }
  }

  snapshot(): GcTotals & { fields: Map<string, number> } {
    return { ...this.totals, fields: new Map(this.scavengeFields) };
  }
}

interface Row {
  server: string;
  load: Load;
  connections: number;
  requests: number;
  promotedBytesPerRequest: number;
  /** The heap's growth from scavenge to scavenge (no full collection between), per request: promoted, and allocated old. */
  oldGrowthBytesPerRequest: number;
  survivedBytesPerRequest: number;
  scavenges: number;
  scavengePauseUsPerRequest: number;
  markCompacts: number;
  markCompactPauseUsPerRequest: number;
  /** `--phases`: each numeric field of the scavenges' lines (ms fields are times), summed over the measured seconds, per request (µs for times). */
  scavengePhasesPerRequest?: Record<string, number>;
}

function bodyOf(): string {
  if (load === '1mb') return requestBody(false, promptWithMarker(1024 * 1024));
  return requestBody(load === 'stream');
}

async function measure(name: string, origin: string): Promise<Row> {
  const gc = new GcLines();
  const server: MoongateProcess = await startMoongate(`${origin}/v1`, () => undefined, {
    nodeFlags: ['--trace-gc-nvp'],
    env: serverEnv,
    onStdout: (part) => gc.take(part),
    ...(name === 'work' ? { script: WORK_FLOOR } : {}),
  });
  try {
    const body = bodyOf();
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${server.token}` };
    const url = `${server.url}/kimi/chat/completions`;
    const run = (durationMs: number): Promise<{ requests: number; errors: number }> =>
      rate === undefined ? runWrk({ url, body, headers, connections, durationMs }) : openLoop(url, body, headers, rate, durationMs);
    // Warm-up: the JIT settles, the connections open, the heap finds its size.
    await run(2000);
    const before = gc.snapshot();
    const result = await run(seconds * 1000);
    // The collections of the last moment reach the pipe a little later than wrk's answer.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const after = gc.snapshot();
    if (result.errors > 0) throw new Error(`${name}: ${result.errors} errors`);
    const n = Math.max(1, result.requests);
    return {
      server: name,
      load,
      connections,
      requests: result.requests,
      promotedBytesPerRequest: Math.round((after.promoted - before.promoted) / n),
      oldGrowthBytesPerRequest: Math.round((after.oldGrowth - before.oldGrowth) / n),
      survivedBytesPerRequest: Math.round((after.survived - before.survived) / n),
      scavenges: after.scavenges - before.scavenges,
      scavengePauseUsPerRequest: Number((((after.scavengeMs - before.scavengeMs) * 1000) / n).toFixed(1)),
      markCompacts: after.markCompacts - before.markCompacts,
      markCompactPauseUsPerRequest: Number((((after.markCompactMs - before.markCompactMs) * 1000) / n).toFixed(1)),
      ...(values.phases
        ? {
            scavengePhasesPerRequest: Object.fromEntries(
              [...after.fields].map(([key, total]) => [key, Number((((total - (before.fields.get(key) ?? 0)) * 1000) / n).toFixed(2))]),
            ),
          }
        : {}),
    };
  } finally {
    await server.stop();
  }
}

/** `rate` requests a second, each sent when due whether or not the last has been answered, over `connections` kept-alive connections. */
async function openLoop(url: string, body: string, headers: Record<string, string>, perSecond: number, durationMs: number): Promise<{ requests: number; errors: number }> {
  const target = new URL(url);
  const pool = new Pool(target.origin, { connections });
  let requests = 0;
  let errors = 0;
  const inFlight = new Set<Promise<void>>();
  const startedAt = performance.now();
  for (let sent = 0; performance.now() - startedAt < durationMs; sent++) {
    const wait = startedAt + (sent * 1000) / perSecond - performance.now();
    if (wait > 0) await sleep(wait);
    const one = pool
      .request({ method: 'POST', path: target.pathname, headers, body })
      .then(async (answer) => {
        await answer.body.text();
        if (answer.statusCode === 200) requests++;
        else errors++;
      })
      .catch(() => void errors++)
      .finally(() => inFlight.delete(one));
    inFlight.add(one);
  }
  await Promise.all(inFlight);
  await pool.close();
  return { requests, errors };
}

const upstream = forkBenchChild('fake-upstream.js', { BENCH_UPSTREAM_DELAY_MS: '0' });
try {
  const { port } = await nextMessage(upstream, 'ready', 15_000);
  const rows: Row[] = [];
  for (const name of servers) rows.push(await measure(name, `http://127.0.0.1:${port}`));
  if (values.json) {
    console.log(JSON.stringify(rows, null, 2));
  } else {
    const pace = rate === undefined ? 'closed loop (wrk)' : `${rate} requests/s`;
    console.log(`${load}, ${connections} connection(s), ${pace}, ${seconds} s measured after 2 s of warm-up; per request:`);
    console.log('server      requests  promoted B  old grown B  survived B  scavenges  scavenge µs  mark-compacts  mark-compact µs');
    for (const r of rows) {
      console.log(
        `${r.server.padEnd(10)} ${String(r.requests).padStart(9)} ${String(r.promotedBytesPerRequest).padStart(11)} ${String(r.oldGrowthBytesPerRequest).padStart(12)} ${String(r.survivedBytesPerRequest).padStart(11)} ${String(r.scavenges).padStart(10)} ${r.scavengePauseUsPerRequest.toFixed(1).padStart(12)} ${String(r.markCompacts).padStart(14)} ${r.markCompactPauseUsPerRequest.toFixed(1).padStart(16)}`,
      );
    }
    for (const r of rows) {
      if (r.scavengePhasesPerRequest === undefined) continue;
      console.log(`${r.server}: scavenges' fields per request (times in µs, bytes/1000):`);
      for (const [key, value] of Object.entries(r.scavengePhasesPerRequest)) if (value >= 0.05) console.log(`  ${key.padEnd(40)} ${value.toFixed(2).padStart(10)}`);
    }
  }
} finally {
  await stopChild(upstream);
}
