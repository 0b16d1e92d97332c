/**
 * `npm run bench`: starts a fake upstream, a bare proxy and moongate on loopback, each in its
 * own process, drives them with a separate load generator, and prints moongate's figures next
 * to the bare proxy's (the floor every Node gateway pays), measured in the same run.
 * Writes bench/results/<date>.json and .md. See README, "Performance".
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { spawn, type ChildProcess } from 'node:child_process';
import { forkBenchChild, nextMessage, stopChild } from './bench-child.js';
import { formatMarkdown, formatTable, ratioOf, type BenchReport, type Pair, type Row } from './bench-report.js';
import type { LoadResult, UpstreamMode } from './child-messages.js';
import { startMoongate, type MoongateProcess } from './moongate-process.js';
import { liveHeapBytes } from './live-heap.js';
import { NodeLoaderClient } from './node-loader-client.js';
import { sampleProcess, watchRss } from './process-sample.js';
import { BENCH_MODEL, STREAM_CONTENT_CHUNKS } from './seed-replies.js';
import { hasWrk, installWrk, runWrk } from './wrk-load.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** In the order they run: the soak comes before the open streams, whose memory takes a while to be given back. */
const PHASES = ['rps', 'latency', 'memory', 'streams', 'settle'] as const;
type Phase = (typeof PHASES)[number];
const MiB = 1024 * 1024;

const USAGE = `usage: npm run bench -- [options]
  --quick               a few seconds in all (the smoke test): tiny runs, no wrk install
  --only <phases>       comma-separated: ${PHASES.join(',')} (default: all)
  --duration <s>        seconds of throughput measured per server and mode (default 8)
  --rounds <n>          alternating rounds the duration is split into (default 4)
  --connections <n>     connections for the throughput runs (default 32)
  --streams <list>      open-stream counts to hold (default 1000,5000)
  --soak <s>            memory soak length (default 120)
  --delay <ms>          the fake upstream's delay before answering (default 0)
  --loader <name>       auto | wrk | node (default auto: wrk, installed with apt-get if missing and root)
  --out <dir>           where the results go (default bench/results)
  --profile <dir>       run moongate under node --cpu-prof; the .cpuprofile lands in <dir>
  --moongate-node-flags=<flags>  extra node flags for moongate alone, space-separated (e.g. "--moongate-node-flags=--max-old-space-size=256")`;

interface Settings {
  quick: boolean;
  phases: Phase[];
  durationMs: number;
  /** The throughput runs are split into this many alternating rounds per server. */
  rounds: number;
  warmupMs: number;
  connections: number;
  streams: number[];
  soakMs: number;
  afterLoadMs: number;
  sequentialRequests: number;
  delayMs: number;
  loader: 'auto' | 'wrk' | 'node';
  out: string;
  profile: string | undefined;
  moongateNodeFlags: string[];
}

function parseSettings(argv: string[]): Settings {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      duration: { type: 'string' },
      rounds: { type: 'string' },
      connections: { type: 'string' },
      streams: { type: 'string' },
      soak: { type: 'string' },
      delay: { type: 'string' },
      loader: { type: 'string', default: 'auto' },
      out: { type: 'string', default: join(ROOT, 'bench', 'results') },
      profile: { type: 'string' },
      'moongate-node-flags': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const number = (name: string, text: string | undefined, fallback: number): number => {
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a non-negative number, not ${JSON.stringify(text)}`);
    return value;
  };
  const quick = values.quick;
  const phases = (values.only ?? PHASES.join(',')).split(',').map((p) => p.trim());
  for (const phase of phases) {
    if (!(PHASES as readonly string[]).includes(phase)) throw new Error(`--only: unknown phase ${JSON.stringify(phase)} (phases: ${PHASES.join(', ')})`);
  }
  const loader = values.loader;
  if (loader !== 'auto' && loader !== 'wrk' && loader !== 'node') throw new Error('--loader must be auto, wrk or node');
  const streams = (values.streams ?? (quick ? '10,20' : '1000,5000')).split(',').map((n) => number('streams', n, 0));
  return {
    quick,
    phases: phases as Phase[],
    durationMs: number('duration', values.duration, quick ? 0.5 : 8) * 1000,
    rounds: Math.max(1, Math.round(number('rounds', values.rounds, quick ? 1 : 4))),
    warmupMs: quick ? 0 : 2_000,
    connections: number('connections', values.connections, 32),
    streams,
    soakMs: number('soak', values.soak, quick ? 1.5 : 120) * 1000,
    afterLoadMs: quick ? 500 : 30_000,
    sequentialRequests: quick ? 20 : 1_000,
    delayMs: number('delay', values.delay, 0),
    loader: quick && loader === 'auto' ? 'node' : loader,
    out: values.out,
    profile: values.profile,
    moongateNodeFlags: (values['moongate-node-flags'] ?? '').split(' ').filter((flag) => flag !== ''),
  };
}

const runStartedAt = performance.now();
/** Progress on stderr, with the seconds since the start; the table goes to stdout. */
const log = (line: string): void => {
  const seconds = ((performance.now() - runStartedAt) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`${seconds}s  ${line}\n`);
};

/** A server under test, or the upstream itself (for "added" latency). */
interface Target {
  name: 'moongate' | 'bare proxy' | 'upstream';
  url: string;
  pid: number;
  headers: Record<string, string>;
}

function requestBody(stream: boolean): string {
  return JSON.stringify({ model: BENCH_MODEL, messages: [{ role: 'user', content: 'Hello' }], ...(stream ? { stream: true } : {}) });
}

interface Bench {
  settings: Settings;
  useWrk: boolean;
  upstreamUrl: string;
  moongate: Target;
  bare: Target;
  upstream: Target;
  /** Highest RSS seen under load, per process. */
  peakRss: Map<number, number>;
  loader: NodeLoaderClient;
  /** moongate's inspector address, opened on first use (live-heap.ts). */
  moongateInspector(): Promise<string>;
}

interface LoadOptions {
  stream: boolean;
  connections: number;
  durationMs: number;
  requests?: number;
  ratePerSecond?: number;
}

async function load(bench: Bench, target: Target, options: LoadOptions): Promise<LoadResult> {
  const body = requestBody(options.stream);
  const headers = { 'content-type': 'application/json', ...target.headers };
  if (bench.useWrk && options.requests === undefined && options.ratePerSecond === undefined) {
    return runWrk({ url: target.url, body, headers, connections: options.connections, durationMs: options.durationMs });
  }
  return bench.loader.run({ url: target.url, body, headers, ...options });
}

function noteErrors(result: LoadResult, what: string, notes: string[]): void {
  if (result.errors > 0) {
    const line = `${what}: ${result.errors} failed requests (transport errors or non-2xx)`;
    log(`  warning: ${line}`);
    notes.push(line);
  }
}

async function setUpstreamMode(bench: Bench, mode: Partial<UpstreamMode>): Promise<void> {
  const response = await fetch(`${bench.upstreamUrl}/__bench/mode`, { method: 'POST', body: JSON.stringify(mode) });
  if (response.status !== 204) throw new Error(`the fake upstream refused the mode: ${response.status}`);
}

async function upstreamStats(bench: Bench): Promise<{ requests: number; open: number }> {
  const response = await fetch(`${bench.upstreamUrl}/__bench/stats`);
  return (await response.json()) as { requests: number; open: number };
}

const fixed = (value: number, digits = 3): number => Number(value.toFixed(digits));

// ---- figure 1 and 3: throughput at N connections, CPU per request ----

async function phaseRps(bench: Bench, rows: Row[], figures: Record<string, unknown>, notes: string[]): Promise<void> {
  const { settings } = bench;
  const out: Record<string, unknown> = {};
  const cpu: Record<string, Pair> = {};
  const rounds = settings.rounds;
  const roundMs = settings.durationMs / rounds;
  for (const stream of [false, true]) {
    const kind = stream ? 'stream' : 'non-stream';
    for (const target of [bench.bare, bench.moongate]) {
      if (settings.warmupMs === 0) break;
      log(`[rps] ${target.name}, ${kind}: warm-up ${settings.warmupMs / 1000} s`);
      await load(bench, target, { stream, connections: settings.connections, durationMs: settings.warmupMs });
    }
    // Short rounds, alternating which server goes first: a machine whose speed drifts
    // (a shared VM) slows both servers alike, so the ratio holds where one long run each would not.
    const measured: Record<string, Array<LoadResult & { cpuUs: number }>> = { moongate: [], 'bare proxy': [] };
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? [bench.bare, bench.moongate] : [bench.moongate, bench.bare];
      for (const target of order) {
        const before = await sampleProcess(target.pid);
        const watch = watchRss(target.pid, 250);
        const result = await load(bench, target, { stream, connections: settings.connections, durationMs: roundMs });
        const samples = await watch.stop();
        const after = await sampleProcess(target.pid);
        bench.peakRss.set(target.pid, Math.max(bench.peakRss.get(target.pid) ?? 0, ...samples.map((sample) => sample.rssBytes)));
        measured[target.name]?.push({ ...result, cpuUs: after.cpuUs - before.cpuUs });
        noteErrors(result, `${target.name} ${kind} throughput`, notes);
        log(`[rps] ${kind} round ${round + 1}/${rounds}, ${target.name}: ${result.rps.toFixed(0)} req/s, ${((after.cpuUs - before.cpuUs) / Math.max(1, result.requests)).toFixed(0)} µs CPU/request`);
      }
    }
    const m = combineRounds(measured.moongate ?? []);
    const b = combineRounds(measured['bare proxy'] ?? []);
    const roundRatios = (measured.moongate ?? []).map((round, i) => {
      const bare = measured['bare proxy']?.[i];
      return bare === undefined ? null : { rps: ratioOf(round.rps, bare.rps), cpu: ratioOf(round.cpuUs / round.requests, bare.cpuUs / bare.requests) };
    });
    const spread = (values: Array<number | null | undefined>): string => {
      const known = values.filter((value): value is number => typeof value === 'number');
      return known.length === 0 ? 'n/a' : `${Math.min(...known).toFixed(2)}x to ${Math.max(...known).toFixed(2)}x`;
    };
    if (rounds > 1) {
      notes.push(`${kind} rounds: req/s ratio ${spread(roundRatios.map((r) => r?.rps))}, CPU/request ratio ${spread(roundRatios.map((r) => r?.cpu))} (each of ${rounds} rounds of ${roundMs / 1000} s)`);
    }
    log(`  ${kind}: moongate ${m.rps.toFixed(0)} req/s, ${m.cpuUsPerRequest.toFixed(0)} µs CPU/request; bare proxy ${b.rps.toFixed(0)} req/s, ${b.cpuUsPerRequest.toFixed(0)} µs CPU/request`);
    out[stream ? 'stream' : 'nonStream'] = { moongate: m, bare: b, rounds: measured, roundRatios };
    const minRatio = stream ? 0.6 : 0.7;
    const rpsRatio = ratioOf(m.rps, b.rps);
    rows.push(
      { figure: `1. max req/s, ${kind}, ${settings.connections} conns`, unit: 'req/s', moongate: fixed(m.rps, 1), bare: fixed(b.rps, 1), ratio: rpsRatio, target: `>= ${minRatio.toFixed(2)}x`, pass: rpsRatio !== null && rpsRatio >= minRatio },
      { figure: `1. p50, ${kind}, ${settings.connections} conns`, unit: 'ms', moongate: fixed(m.p50Ms), bare: fixed(b.p50Ms), ratio: ratioOf(m.p50Ms, b.p50Ms), target: '', pass: null },
      { figure: `1. p99, ${kind}, ${settings.connections} conns`, unit: 'ms', moongate: fixed(m.p99Ms), bare: fixed(b.p99Ms), ratio: ratioOf(m.p99Ms, b.p99Ms), target: '', pass: null },
    );
    cpu[stream ? 'stream' : 'nonStream'] = { moongate: m.cpuUsPerRequest, bare: b.cpuUsPerRequest };
  }
  figures.throughput = out;
  figures.cpuUsPerRequest = cpu;
  for (const [key, pair] of Object.entries(cpu)) {
    const ratio = ratioOf(pair.moongate, pair.bare);
    rows.push({ figure: `3. CPU per request, ${key === 'stream' ? 'stream' : 'non-stream'}`, unit: 'µs', moongate: fixed(pair.moongate, 1), bare: fixed(pair.bare, 1), ratio, target: '<= 1.50x', pass: ratio !== null && ratio <= 1.5 });
  }
}

/**
 * One figure from several rounds: req/s and CPU/request from the totals (every request
 * counts once), p50 and p99 as the median of the rounds' own.
 */
function combineRounds(rounds: ReadonlyArray<LoadResult & { cpuUs: number }>) {
  const requests = rounds.reduce((sum, r) => sum + r.requests, 0);
  const seconds = rounds.reduce((sum, r) => sum + r.durationMs, 0) / 1000;
  const median = (values: number[]): number => {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? Number.NaN) + (sorted[mid] ?? Number.NaN)) / 2;
  };
  return {
    requests,
    errors: rounds.reduce((sum, r) => sum + r.errors, 0),
    rps: seconds === 0 ? Number.NaN : requests / seconds,
    p50Ms: median(rounds.map((r) => r.p50Ms)),
    p99Ms: median(rounds.map((r) => r.p99Ms)),
    cpuUsPerRequest: requests === 0 ? Number.NaN : rounds.reduce((sum, r) => sum + r.cpuUs, 0) / requests,
  };
}

// ---- figure 2: added latency, one request at a time and at N connections ----

async function phaseLatency(bench: Bench, rows: Row[], figures: Record<string, unknown>, notes: string[]): Promise<void> {
  const { settings } = bench;
  const targets = [bench.upstream, bench.bare, bench.moongate];
  const sequential: Record<string, Record<string, LoadResult>> = { nonStream: {}, stream: {} };
  for (const stream of [false, true]) {
    for (const target of targets) {
      log(`[latency] ${target.name}, ${stream ? 'stream (time to first byte)' : 'non-stream'}, one at a time: ${settings.sequentialRequests} requests`);
      const result = await load(bench, target, { stream, connections: 1, durationMs: 60_000, requests: settings.sequentialRequests });
      noteErrors(result, `${target.name} sequential`, notes);
      (sequential[stream ? 'stream' : 'nonStream'] as Record<string, LoadResult>)[target.name] = result;
    }
  }
  const get = (kind: string, name: string): LoadResult => {
    const found = sequential[kind]?.[name];
    if (found === undefined) throw new Error(`no ${kind} result for ${name}`);
    return found;
  };
  const added = (kind: string, pick: (r: LoadResult) => number): Pair => ({
    moongate: pick(get(kind, 'moongate')) - pick(get(kind, 'upstream')),
    bare: pick(get(kind, 'bare proxy')) - pick(get(kind, 'upstream')),
  });
  const addedP50 = added('nonStream', (r) => r.p50Ms);
  const addedP99 = added('nonStream', (r) => r.p99Ms);
  const ttfbP50 = added('stream', (r) => r.ttfbP50Ms ?? Number.NaN);
  const ttfbP99 = added('stream', (r) => r.ttfbP99Ms ?? Number.NaN);
  const row = (figure: string, pair: Pair, target = '', pass: boolean | null = null): Row => ({
    figure, unit: 'ms', moongate: fixed(pair.moongate), bare: fixed(pair.bare), ratio: ratioOf(pair.moongate, pair.bare), target, pass,
  });
  rows.push(
    row('2. added latency p50, one at a time', addedP50),
    row('2. added latency p99, one at a time', addedP99),
    row('2. added time to first byte p50, stream', ttfbP50),
    row('2. added time to first byte p99, stream', ttfbP99),
  );

  // At N connections, at a fixed rate every server can carry, so the figure is latency, not queueing.
  const throughput = figures.throughput as { nonStream?: { moongate: { rps: number } } } | undefined;
  const moongateMax = throughput?.nonStream?.moongate.rps;
  const rate = Math.max(20, Math.round(moongateMax !== undefined ? moongateMax / 2 : settings.quick ? 100 : 300));
  const underLoad: Record<string, LoadResult> = {};
  for (const target of targets) {
    log(`[latency] ${target.name}, non-stream, ${settings.connections} connections at ${rate} req/s: ${settings.durationMs / 1000} s`);
    const result = await load(bench, target, { stream: false, connections: settings.connections, durationMs: settings.durationMs, ratePerSecond: rate });
    noteErrors(result, `${target.name} at ${rate} req/s`, notes);
    underLoad[target.name] = result;
    log(`  p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms`);
  }
  const p99 = (name: string): number => underLoad[name]?.p99Ms ?? Number.NaN;
  const addedAtN: Pair = { moongate: p99('moongate') - p99('upstream'), bare: p99('bare proxy') - p99('upstream') };
  rows.push(row(`2. added p99, ${settings.connections} conns at ${rate} req/s`, addedAtN, '<= 2 ms', addedAtN.moongate <= 2));
  figures.latency = {
    sequential,
    addedMs: { p50: addedP50, p99: addedP99, ttfbP50, ttfbP99 },
    underLoad: { connections: settings.connections, ratePerSecond: rate, results: underLoad, addedP99Ms: addedAtN },
  };
}

// ---- figure 4: open streams held at once ----

async function holdStreams(bench: Bench, target: Target, count: number): Promise<{ held: number; failed: number; rssMiB: number }> {
  const holder = forkBenchChild('stream-holder.js', {
    BENCH_URL: target.url,
    BENCH_STREAMS: String(count),
    BENCH_HEADERS: JSON.stringify({ 'content-type': 'application/json', ...target.headers }),
    BENCH_BODY: requestBody(true),
  });
  // Opening slows down as the streams already open take the CPU: wait while it progresses.
  const stallMs = bench.settings.quick ? 10_000 : 20_000;
  const deadline = performance.now() + (bench.settings.quick ? 15_000 : 240_000);
  let last = { held: 0, failed: 0 };
  let lastLog = 0;
  let progressedAt = performance.now();
  try {
    while (last.held + last.failed < count && performance.now() < deadline && performance.now() - progressedAt < stallMs) {
      const message = await nextMessage(holder, 'held', 5_000);
      if (message.held + message.failed > last.held + last.failed) progressedAt = performance.now();
      last = message;
      if (performance.now() - lastLog > 2_000) {
        lastLog = performance.now();
        log(`  ${last.held} open, ${last.failed} failed`);
      }
    }
    // Let a few chunks flow through every stream before measuring.
    await new Promise((resolve) => setTimeout(resolve, bench.settings.quick ? 200 : 2_000));
    const sample = await sampleProcess(target.pid);
    const final = await nextMessage(holder, 'held', 5_000);
    return { held: final.held, failed: final.failed, rssMiB: sample.rssBytes / MiB };
  } finally {
    holder.send('release');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 15_000);
      holder.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    await stopChild(holder);
    // Wait until every upstream stream was let go, so the next count starts clean.
    for (let i = 0; i < 300 && (await upstreamStats(bench)).open > 0; i++) await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function fdLimit(): number {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    return Number(/^Max open files\s+(\d+)/m.exec(limits)?.[1] ?? Number.POSITIVE_INFINITY);
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

async function phaseStreams(bench: Bench, rows: Row[], figures: Record<string, unknown>, notes: string[]): Promise<void> {
  const out: Array<Record<string, unknown>> = [];
  await setUpstreamMode(bench, { chunkIntervalMs: 1_000, chunks: 3_600 });
  try {
    for (const count of bench.settings.streams) {
      const result: Record<string, { held: number; failed: number; rssMiB: number }> = {};
      for (const target of [bench.bare, bench.moongate]) {
        log(`[streams] ${target.name}: opening ${count} slow streams (1 chunk/s)`);
        const held = await holdStreams(bench, target, count);
        result[target.name] = held;
        log(`  ${held.held} held, ${held.failed} failed, RSS ${held.rssMiB.toFixed(1)} MiB`);
        if (held.held < count) notes.push(`${target.name}: only ${held.held} of ${count} streams were open at once (${held.failed} failed)`);
      }
      const m = result.moongate;
      const b = result['bare proxy'];
      if (m === undefined || b === undefined) throw new Error('open-streams run missing');
      out.push({ count, moongate: m, bare: b });
      const heldAll = m.held === count;
      rows.push(
        { figure: `4. streams held open of ${count}`, unit: 'streams', moongate: m.held, bare: b.held, ratio: ratioOf(m.held, b.held), target: `${count}`, pass: heldAll },
        {
          figure: `4. RSS with ${count} open streams`, unit: 'MiB', moongate: fixed(m.rssMiB, 1), bare: fixed(b.rssMiB, 1), ratio: ratioOf(m.rssMiB, b.rssMiB),
          // The target is for 5,000 streams: 400 MB (decimal, as the issue says).
          target: count === 5_000 ? '< 400 MB' : '', pass: count === 5_000 ? heldAll && m.rssMiB * MiB < 400e6 : null,
        },
      );
    }
  } finally {
    await setUpstreamMode(bench, { chunkIntervalMs: 0, chunks: STREAM_CONTENT_CHUNKS });
  }
  figures.openStreams = out;
}

// ---- figure 5: memory idle, under load, after load; growth over a soak ----

/** Each sample's RSS replaced by the lowest RSS from that sample to the end. */
function floorOf(samples: ReadonlyArray<{ atMs: number; rssBytes: number }>): Array<{ atMs: number; rssBytes: number }> {
  const out = samples.map((sample) => ({ ...sample }));
  for (let i = out.length - 2; i >= 0; i--) {
    const later = out[i + 1];
    const here = out[i];
    if (here !== undefined && later !== undefined) here.rssBytes = Math.min(here.rssBytes, later.rssBytes);
  }
  return out;
}

/** Least-squares slope of RSS over time, in MiB per minute. */
function growthMiBPerMinute(samples: ReadonlyArray<{ atMs: number; rssBytes: number }>): number {
  if (samples.length < 2) return Number.NaN;
  const xs = samples.map((s) => s.atMs / 60_000);
  const ys = samples.map((s) => s.rssBytes / MiB);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += ((xs[i] ?? 0) - mx) * ((ys[i] ?? 0) - my);
    den += ((xs[i] ?? 0) - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

async function phaseMemory(bench: Bench, idle: Map<number, number>, rows: Row[], figures: Record<string, unknown>, notes: string[]): Promise<void> {
  const { settings } = bench;
  const throughput = figures.throughput as { stream?: { moongate: LoadResult } } | undefined;
  const moongateStreamMax = throughput?.stream?.moongate.rps;
  // Both soaked at once, at a rate both carry easily: the figure is growth, not throughput.
  const rate = Math.max(20, Math.min(200, Math.round(moongateStreamMax !== undefined ? moongateStreamMax / 4 : settings.quick ? 50 : 200)));
  const heapBefore = await liveHeapBytes(await bench.moongateInspector());
  log(`[memory] moongate's live heap after a full collection: ${(heapBefore / MiB).toFixed(2)} MiB`);
  log(`[memory] soak: moongate and the bare proxy at ${rate} stream req/s each for ${settings.soakMs / 1000} s`);
  const targets = [bench.moongate, bench.bare];
  const watches = targets.map((t) => watchRss(t.pid, settings.quick ? 250 : 5_000));
  const results = await Promise.all(
    targets.map((t) => load(bench, t, { stream: true, connections: settings.connections, durationMs: settings.soakMs, ratePerSecond: rate })),
  );
  const samples = await Promise.all(watches.map((w) => w.stop()));
  targets.forEach((t, i) => {
    const result = results[i];
    if (result !== undefined) noteErrors(result, `${t.name} soak`, notes);
    const peak = Math.max(...(samples[i] ?? []).map((s) => s.rssBytes));
    bench.peakRss.set(t.pid, Math.max(bench.peakRss.get(t.pid) ?? 0, peak));
  });
  // The first fifth is the heap finding its size; growth is what comes after. RSS under a
  // garbage-collected heap is a sawtooth: it climbs between full collections and drops at
  // each, so a straight line through the samples measures where the drops fell (a soak once
  // read -88 MiB/min with RSS flat for its last 70 s). Growth is the slope of the floor
  // instead: each sample's lowest RSS from then to the end, what the process comes back
  // down to. A leak lifts that floor; a sawtooth does not. (It can only rise, so it errs
  // towards reporting growth, never towards hiding it.)
  const steady = samples.map((list) => list.filter((s) => s.atMs >= settings.soakMs / 5));
  const growth: Pair = { moongate: growthMiBPerMinute(floorOf(steady[0] ?? [])), bare: growthMiBPerMinute(floorOf(steady[1] ?? [])) };
  const straightLine: Pair = { moongate: growthMiBPerMinute(steady[0] ?? []), bare: growthMiBPerMinute(steady[1] ?? []) };
  // What a leak keeps is still reachable after a full collection; a heap still settling at
  // its size after the earlier phases lifts the RSS floor for minutes, but not this.
  const heapAfter = await liveHeapBytes(await bench.moongateInspector());
  const soakRequests = results[0]?.requests ?? 0;
  const heapGrowth = ((heapAfter - heapBefore) / MiB) / (settings.soakMs / 60_000);
  log(
    `[memory] moongate's live heap after the soak: ${(heapAfter / MiB).toFixed(2)} MiB ` +
      `(${heapGrowth >= 0 ? '+' : ''}${heapGrowth.toFixed(2)} MiB/min, ${soakRequests} requests)`,
  );
  log(`[memory] waiting ${settings.afterLoadMs / 1000} s after load`);
  await new Promise((resolve) => setTimeout(resolve, settings.afterLoadMs));
  const after = await Promise.all(targets.map((t) => sampleProcess(t.pid)));
  const mib = (bytes: number | undefined): number => fixed((bytes ?? Number.NaN) / MiB, 1);
  const idlePair: Pair = { moongate: mib(idle.get(bench.moongate.pid)), bare: mib(idle.get(bench.bare.pid)) };
  const loadPair: Pair = { moongate: mib(bench.peakRss.get(bench.moongate.pid)), bare: mib(bench.peakRss.get(bench.bare.pid)) };
  const afterPair: Pair = { moongate: mib(after[0]?.rssBytes), bare: mib(after[1]?.rssBytes) };
  const row = (figure: string, pair: Pair, unit = 'MiB', target = '', pass: boolean | null = null): Row => ({
    figure, unit, moongate: pair.moongate, bare: pair.bare, ratio: ratioOf(pair.moongate, pair.bare), target, pass,
  });
  rows.push(
    row('5. RSS idle', idlePair),
    row('5. RSS under load (peak)', loadPair),
    row(`5. RSS ${settings.afterLoadMs / 1000} s after load`, afterPair),
    row(`5. RSS growth over a ${settings.soakMs / 1000} s soak (floor)`, { moongate: fixed(growth.moongate), bare: fixed(growth.bare) }, 'MiB/min', '< 1 MiB/min', growth.moongate < 1),
    { figure: '5. live heap growth over the soak, after a full collection', unit: 'MiB/min', moongate: fixed(heapGrowth), bare: null, ratio: null, target: '', pass: null },
  );
  figures.memory = {
    soakRatePerSecond: rate,
    idleMiB: idlePair,
    underLoadMiB: loadPair,
    afterLoadMiB: afterPair,
    growthMiBPerMin: growth,
    straightLineSlopeMiBPerMin: straightLine,
    liveHeap: {
      beforeSoakMiB: fixed(heapBefore / MiB, 3),
      afterSoakMiB: fixed(heapAfter / MiB, 3),
      growthMiBPerMin: fixed(heapGrowth, 3),
      bytesPerRequest: soakRequests > 0 ? fixed((heapAfter - heapBefore) / soakRequests, 1) : null,
      soakRequests,
    },
    soakSamples: samples,
  };
}

// ---- figure 6: settled requests/s on SQLite (bench/settle-rate.*, from the billing work) ----

async function phaseSettle(rows: Row[], figures: Record<string, unknown>, notes: string[], quick: boolean): Promise<void> {
  const candidates = ['bench/dist/settle-rate.js', 'bench/settle-rate.mjs', 'bench/settle-rate.js'].map((p) => join(ROOT, p));
  const script = candidates.find((p) => existsSync(p));
  let rate: number | null = null;
  let withoutGroupCommit: number | null = null;
  if (script === undefined) {
    log('[settle] settle-rate: not available yet');
    notes.push('settle-rate: not available yet (bench/settle-rate.* comes with billing)');
  } else {
    log(`[settle] running ${script}`);
    // settle-rate.mjs --json ends with one JSON line: { settledPerSecond, oneTransactionEachPerSecond, ... }.
    const output = await new Promise<string>((resolve, reject) => {
      const child: ChildProcess = spawn(process.execPath, [script, ...(quick ? ['500', '64'] : []), '--json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      child.stdout?.setEncoding('utf8').on('data', (part: string) => (text += part));
      child.on('error', reject);
      child.on('close', () => resolve(text));
    });
    const last = output.trim().split('\n').reverse().find((line) => line.startsWith('{'));
    const parsed = last === undefined ? undefined : (JSON.parse(last) as Record<string, unknown>);
    const value = parsed?.settledPerSecond;
    rate = typeof value === 'number' ? value : null;
    const single = parsed?.oneTransactionEachPerSecond;
    if (typeof single === 'number') withoutGroupCommit = single;
    if (rate === null) notes.push(`settle-rate: ${script} printed no settledPerSecond`);
  }
  figures.settleRate = { settledPerSecond: rate, oneTransactionEachPerSecond: withoutGroupCommit };
  rows.push({ figure: '6. settled requests/s on SQLite (group commit)', unit: 'req/s', moongate: rate, bare: null, ratio: null, target: '', pass: null });
  rows.push({ figure: '6. settled requests/s on SQLite, one transaction each', unit: 'req/s', moongate: withoutGroupCommit, bare: null, ratio: null, target: '', pass: null });
}

// ---- the run ----

async function startServerChild(script: string, env: Record<string, string>): Promise<{ child: ChildProcess; port: number }> {
  const child = forkBenchChild(script, env);
  const ready = await nextMessage(child, 'ready', 15_000);
  return { child, port: ready.port };
}

async function checkPath(bench: Bench): Promise<void> {
  const before = (await upstreamStats(bench)).requests;
  for (const target of [bench.bare, bench.moongate]) {
    for (const stream of [false, true]) {
      const response = await fetch(target.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...target.headers },
        body: requestBody(stream),
      });
      const text = await response.text();
      if (response.status !== 200) throw new Error(`${target.name} answered ${response.status}: ${text.slice(0, 300)}`);
      if (stream && !text.endsWith('data: [DONE]\n\n')) throw new Error(`${target.name}'s stream did not end with [DONE]`);
    }
  }
  const reached = (await upstreamStats(bench)).requests - before;
  // At least the four sent (a router may add probes of its own).
  if (reached < 4) throw new Error(`the fake upstream saw ${reached} of 4 requests: moongate is not using it (check the upstream line above)`);
}

async function main(): Promise<void> {
  const settings = parseSettings(process.argv.slice(2));
  const started = performance.now();
  let useWrk = false;
  if (settings.loader !== 'node') {
    useWrk = hasWrk() || (!settings.quick && installWrk(log));
    if (!useWrk && settings.loader === 'wrk') throw new Error('--loader wrk: wrk is not installed and could not be');
  }
  const loaderName = useWrk ? 'wrk (throughput) and the built-in undici loader (latency, rates, streams)' : 'the built-in undici loader';
  log(`load generator: ${loaderName}`);
  const needed = Math.max(0, ...settings.streams) * 2 + 200;
  if (settings.phases.includes('streams') && fdLimit() < needed) {
    log(`warning: ulimit -n is ${fdLimit()}; holding ${Math.max(...settings.streams)} streams through moongate needs about ${needed} (raise it with ulimit -n)`);
  }

  const children: ChildProcess[] = [];
  const loader = new NodeLoaderClient();
  let moongate: MoongateProcess | undefined;
  try {
    log('starting the fake upstream, the bare proxy and moongate...');
    const upstream = await startServerChild('fake-upstream.js', { BENCH_UPSTREAM_DELAY_MS: String(settings.delayMs) });
    children.push(upstream.child);
    const upstreamOrigin = `http://127.0.0.1:${upstream.port}`;
    // Started side by side: each is a cold Node start, and moongate's also runs the CLI first.
    const [bare, gate] = await Promise.allSettled([
      startServerChild('bare-proxy.js', { BENCH_UPSTREAM_ORIGIN: upstreamOrigin }),
      startMoongate(`${upstreamOrigin}/v1`, log, {
        ...(settings.profile === undefined ? {} : { profileDir: settings.profile }),
        nodeFlags: settings.moongateNodeFlags,
      }),
    ]);
    if (bare.status === 'fulfilled') children.push(bare.value.child);
    if (gate.status === 'fulfilled') moongate = gate.value;
    if (bare.status === 'rejected') throw bare.reason;
    if (gate.status === 'rejected' || moongate === undefined) throw gate.status === 'rejected' ? gate.reason : new Error('moongate did not start');
    for (const piece of moongate.pipeline) log(`  ${piece}`);
    const pidOf = (child: ChildProcess): number => {
      if (child.pid === undefined) throw new Error('a bench child has no pid');
      return child.pid;
    };
    const bench: Bench = {
      settings,
      useWrk,
      upstreamUrl: upstreamOrigin,
      moongate: { name: 'moongate', url: `${moongate.url}/v1/chat/completions`, pid: moongate.pid, headers: { authorization: `Bearer ${moongate.token}` } },
      bare: { name: 'bare proxy', url: `http://127.0.0.1:${bare.value.port}/v1/chat/completions`, pid: pidOf(bare.value.child), headers: { authorization: 'Bearer bench' } },
      upstream: { name: 'upstream', url: `${upstreamOrigin}/v1/chat/completions`, pid: pidOf(upstream.child), headers: { authorization: 'Bearer bench' } },
      peakRss: new Map(),
      loader,
      moongateInspector: moongate.inspector,
    };
    await checkPath(bench);
    await new Promise((resolve) => setTimeout(resolve, settings.quick ? 200 : 1_000));
    const idle = new Map<number, number>();
    for (const target of [bench.moongate, bench.bare]) idle.set(target.pid, (await sampleProcess(target.pid)).rssBytes);

    const rows: Row[] = [];
    const figures: Record<string, unknown> = {};
    const notes: string[] = [];
    for (const phase of PHASES.filter((p) => settings.phases.includes(p))) {
      if (phase === 'rps') await phaseRps(bench, rows, figures, notes);
      else if (phase === 'latency') await phaseLatency(bench, rows, figures, notes);
      else if (phase === 'streams') await phaseStreams(bench, rows, figures, notes);
      else if (phase === 'memory') await phaseMemory(bench, idle, rows, figures, notes);
      else await phaseSettle(rows, figures, notes, settings.quick);
    }

    // By figure number, whatever order the phases ran in.
    rows.sort((a, b) => Number.parseInt(a.figure, 10) - Number.parseInt(b.figure, 10));
    const cpuModel = cpus()[0]?.model.trim() ?? 'unknown CPU';
    const date = new Date().toISOString();
    const report: BenchReport = {
      date,
      machine: {
        cpus: cpus().length,
        cpuModel,
        node: process.version,
        loader: loaderName,
        note: 'The load generator, the fake upstream and the server under test share these cores; figures are from one run, loopback only.',
      },
      settings: { ...settings, out: undefined, profile: undefined },
      pipeline: moongate.pipeline,
      figures,
      rows,
      notes,
    };
    await mkdir(settings.out, { recursive: true });
    const stem = join(settings.out, date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z'));
    await writeFile(`${stem}.json`, `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(`${stem}.md`, formatMarkdown(report));
    console.log(`\n${formatTable(rows)}\n`);
    for (const note of notes) console.log(`note: ${note}`);
    console.log(`results: ${stem}.json and .md (${((performance.now() - started) / 1000).toFixed(0)} s)`);
  } finally {
    await loader.close();
    await moongate?.stop();
    for (const child of children.reverse()) await stopChild(child);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});

