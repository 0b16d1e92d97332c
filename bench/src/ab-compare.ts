/**
 * Two servers on one fake upstream, measured in alternating rounds: how issue 20's levers
 * were judged (docs/benchmark.md, "Comparing two builds"). On a shared VM whose speed drifts
 * by ±15% from minute to minute, a full `npm run bench` cannot show a 5% lever; the ratio of
 * two servers measured in turn, round after round, can. Each round gives each server `--seconds`
 * of load (the A/B order alternates), reads each one's CPU from /proc, and prints both and
 * their ratios; the end prints the median of the per-round ratios.
 *
 *   npm run bench:build
 *   node bench/dist/ab-compare.js --load non-stream --a moongate --b lean
 *   node bench/dist/ab-compare.js --load alone --a moongate --b moongate --b-env LOG_LEVEL=warn
 *   node bench/dist/ab-compare.js --load 1mb --a moongate --b /path/to/other/checkout
 *
 * A server is `lean` (the lean floor), `bare` (the bare proxy), `plain` (the plain gateway,
 * plain-gateway.ts: non-stream loads only), `moongate` (this checkout's
 * build), `work` (the work floor, work-floor.ts: non-stream loads only) or the path of another
 * checkout of moongate whose build and bench build are done (`npm run build && npm run
 * bench:build` there). `--a-profile DIR` (or `--b-profile`) runs that side, this checkout's
 * moongate or work floor, under `node --cpu-prof` (profile-summary.ts reads it): a profile of
 * two configurations measured under the same load, Redis admission against in-memory, say. Loads: `non-stream` and `stream` (wrk, 32
 * connections or `--connections`, the seed's "Hello"), `alone` (one non-stream request at a time; the first
 * ratio is then of the p50 latency's inverse), `1mb` (one at a time, a new 1 MB prompt each; `--prompt-kb 100` makes it 100 KB).
 */
import type { ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { envOf, requestBody } from './bench-context.js';
import { forkBenchChild, nextMessage, stopChild } from './bench-child.js';
import { PLAIN_GATEWAY_TOKEN } from './child-messages.js';
import { launcherNodeFlags, WORK_FLOOR, type MoongateFlags, type MoongateProcess } from './moongate-process.js';
import { median } from './percentile.js';
import { promptWithMarker } from './phase-prompt.js';
import { sampleProcess } from './process-sample.js';
import { hasWrk, runWrk } from './wrk-load.js';

/** The servers that are one of the bench's own scripts, by the name `--a`/`--b` give them. */
const CHILD_SERVERS: Record<string, string | undefined> = { lean: 'lean-proxy.js', bare: 'bare-proxy.js', plain: 'plain-gateway.js' };

const LOADS = ['non-stream', 'stream', 'alone', '1mb'] as const;
type Load = (typeof LOADS)[number];

interface Server {
  name: string;
  pid: number;
  url: string;
  headers: Record<string, string>;
  stop(): Promise<void>;
}

interface Round {
  /** Requests per second; for one-at-a-time loads, 1000 / the p50 latency in ms. */
  rate: number;
  cpuUsPerRequest: number;
}

type StartMoongate = (upstream: string | undefined, log: (line: string) => void, flags?: MoongateFlags) => Promise<MoongateProcess>;

interface Instruments {
  /** `node --cpu-prof` into this directory. */
  profileDir?: string | undefined;
  /** The allocation sampler (alloc-sampler.ts) into this directory. */
  allocDir?: string | undefined;
  nodeFlags: string[];
}

async function startServer(name: string, origin: string, env: Record<string, string>, { profileDir, allocDir, nodeFlags }: Instruments): Promise<Server> {
  const script = CHILD_SERVERS[name];
  if (script !== undefined) {
    if (profileDir !== undefined || allocDir !== undefined || (nodeFlags.length > 0 && name !== 'plain')) {
      throw new Error('--a-profile and --a-alloc (and their --b- forms) apply to moongate and work only; --a-node-flags to those and plain');
    }
    const child: ChildProcess = forkBenchChild(
      script,
      { BENCH_UPSTREAM_ORIGIN: origin, ...env },
      // The plain gateway logs and holds a heap as moongate does: the same node flags, its log dropped the same way.
      name === 'plain' ? { dropStdout: true, nodeFlags: [...(await launcherNodeFlags()), ...nodeFlags] } : {},
    );
    const { port } = await nextMessage(child, 'ready', 15_000);
    const headers: Record<string, string> = name === 'plain' ? { authorization: `Bearer ${PLAIN_GATEWAY_TOKEN}` } : {};
    return { name, pid: child.pid ?? 0, url: `http://127.0.0.1:${port}/kimi/chat/completions`, headers, stop: () => stopChild(child) };
  }
  // This checkout's harness (moongate, or the work floor in its place), or another checkout's
  // (each starts its own bin/moongate.js).
  const own = name === 'moongate' || name === 'work';
  const module = own ? './moongate-process.js' : pathToFileURL(join(resolve(name), 'bench', 'dist', 'moongate-process.js')).href;
  const { startMoongate } = (await import(module)) as { startMoongate: StartMoongate };
  if ((profileDir !== undefined || allocDir !== undefined || nodeFlags.length > 0) && !own) {
    throw new Error('--a-profile, --a-alloc and --a-node-flags (and their --b- forms) apply to this checkout only (moongate, work, or plain for --a-node-flags)');
  }
  const flags: MoongateFlags = { env, nodeFlags, ...(profileDir === undefined ? {} : { profileDir }), ...(allocDir === undefined ? {} : { allocDir }) };
  const moongate = await startMoongate(`${origin}/v1`, () => undefined, name === 'work' ? { ...flags, script: WORK_FLOOR } : flags);
  return {
    name,
    pid: moongate.pid,
    url: `${moongate.url}/kimi/chat/completions`,
    headers: { authorization: `Bearer ${moongate.token}` },
    stop: () => moongate.stop(),
  };
}

async function oneAtATime(server: Server, ms: number, body: () => string): Promise<{ requests: number; p50Ms: number }> {
  const latencies: number[] = [];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const startedAt = performance.now();
    const answer = await request(server.url, { method: 'POST', headers: { 'content-type': 'application/json', ...server.headers }, body: body() });
    const text = await answer.body.text();
    if (answer.statusCode !== 200) throw new Error(`${server.name} answered ${answer.statusCode}: ${text.slice(0, 200)}`);
    latencies.push(performance.now() - startedAt);
  }
  latencies.sort((x, y) => x - y);
  return { requests: latencies.length, p50Ms: latencies[latencies.length >> 1] ?? Number.NaN };
}

async function round(server: Server, load: Load, ms: number, connections: number, promptBytes: number): Promise<Round> {
  const before = await sampleProcess(server.pid);
  let requests: number;
  let rate: number;
  if (load === 'non-stream' || load === 'stream') {
    const result = await runWrk({
      url: server.url,
      body: requestBody(load === 'stream'),
      headers: { 'content-type': 'application/json', ...server.headers },
      connections,
      durationMs: ms,
    });
    if (result.errors > 0) throw new Error(`${server.name}: ${result.errors} errors`);
    requests = result.requests;
    rate = result.rps;
  } else {
    const prompt = load === '1mb' ? promptWithMarker(promptBytes) : 'Hello';
    let n = 0;
    // 1mb: a new text each request (the prompt phase's cold case), of --prompt-kb.
    const body = (): string => (load === '1mb' ? requestBody(false, `${n++} ${prompt}`) : requestBody(false));
    const result = await oneAtATime(server, ms, body);
    requests = result.requests;
    rate = load === 'alone' ? 1000 / result.p50Ms : requests / (ms / 1000);
  }
  const after = await sampleProcess(server.pid);
  return { rate, cpuUsPerRequest: (after.cpuUs - before.cpuUs) / Math.max(1, requests) };
}

const OPTIONS = {
  load: { type: 'string', default: 'non-stream' },
  a: { type: 'string', default: 'moongate' },
  b: { type: 'string', default: 'lean' },
  'a-env': { type: 'string' },
  'b-env': { type: 'string' },
  'a-profile': { type: 'string' },
  'b-profile': { type: 'string' },
  'a-alloc': { type: 'string' },
  'b-alloc': { type: 'string' },
  'a-node-flags': { type: 'string' },
  'b-node-flags': { type: 'string' },
  rounds: { type: 'string', default: '6' },
  seconds: { type: 'string', default: '3' },
  connections: { type: 'string', default: '32' },
  'prompt-kb': { type: 'string', default: '1024' },
  help: { type: 'boolean', short: 'h' },
} as const;

const USAGE = `usage: node bench/dist/ab-compare.js [--load non-stream|stream|alone|1mb] [--a SERVER] [--b SERVER]
       [--a-env K=V,K=V] [--b-env K=V] [--a-profile DIR] [--b-profile DIR] [--a-alloc DIR] [--b-alloc DIR]
       [--a-node-flags="--flag=x --other"] [--b-node-flags=...] [--rounds 6] [--seconds 3] [--connections 32]
       [--prompt-kb 1024]
SERVER: lean, bare, plain, moongate, work, or the path of another checkout (docs/benchmark.md, "Comparing two builds")`;

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ options: OPTIONS });
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  const { values } = parsed;
  if (values.help === true) {
    console.log(USAGE);
    return;
  }
  const load = values.load as Load;
  if (!LOADS.includes(load)) throw new Error(`--load must be one of ${LOADS.join(', ')}`);
  for (const [floor, called] of [
    ['work', 'the work floor'],
    ['plain', 'the plain gateway'],
  ]) {
    if (load === 'stream' && (values.a === floor || values.b === floor)) throw new Error(`${called} answers non-stream requests only (loads non-stream, alone, 1mb)`);
  }
  if ((load === 'non-stream' || load === 'stream') && !hasWrk()) throw new Error('wrk is needed for this load (apt-get install -y wrk)');
  const rounds = Number(values.rounds);
  const ms = Number(values.seconds) * 1000;
  const connections = Number(values.connections);
  if (!Number.isInteger(connections) || connections < 1) throw new Error('--connections must be a positive integer');
  const promptKb = Number(values['prompt-kb']);
  if (!Number.isInteger(promptKb) || promptKb < 1) throw new Error('--prompt-kb must be a positive integer');
  const promptBytes = promptKb * 1024;

  const upstream = forkBenchChild('fake-upstream.js', { BENCH_UPSTREAM_DELAY_MS: '0' });
  const { port } = await nextMessage(upstream, 'ready', 15_000);
  const origin = `http://127.0.0.1:${port}`;
  const flagsOf = (list: string | undefined): string[] => (list ?? '').split(' ').filter((flag) => flag !== '');
  const a = await startServer(values.a, origin, envOf(values['a-env']), {
    profileDir: values['a-profile'],
    allocDir: values['a-alloc'],
    nodeFlags: flagsOf(values['a-node-flags']),
  });
  const b = await startServer(values.b, origin, envOf(values['b-env']), {
    profileDir: values['b-profile'],
    allocDir: values['b-alloc'],
    nodeFlags: flagsOf(values['b-node-flags']),
  });
  try {
    // Warm-up: the JIT settles and every connection is open.
    await round(a, load, ms / 2, connections, promptBytes);
    await round(b, load, ms / 2, connections, promptBytes);
    const rates: number[] = [];
    const cpus: number[] = [];
    for (let i = 0; i < rounds; i++) {
      // A then B, then B then A: drift within a round pair falls on both alike.
      const first = i % 2 === 0 ? a : b;
      const firstRound = await round(first, load, ms, connections, promptBytes);
      const secondRound = await round(first === a ? b : a, load, ms, connections, promptBytes);
      const [x, y] = first === a ? [firstRound, secondRound] : [secondRound, firstRound];
      rates.push(x.rate / y.rate);
      cpus.push(x.cpuUsPerRequest / y.cpuUsPerRequest);
      console.log(
        `round ${i + 1}/${rounds}: A ${x.rate.toFixed(0)}/s ${x.cpuUsPerRequest.toFixed(0)} µs | B ${y.rate.toFixed(0)}/s ${y.cpuUsPerRequest.toFixed(0)} µs | A/B rate ${(x.rate / y.rate).toFixed(3)}, CPU ${(x.cpuUsPerRequest / y.cpuUsPerRequest).toFixed(3)}`,
      );
    }
    console.log(`median of ${rounds} rounds, A (${a.name}) / B (${b.name}), ${load}: rate ${median(rates).toFixed(3)}x, CPU per request ${median(cpus).toFixed(3)}x`);
  } finally {
    await a.stop();
    await b.stop();
    await stopChild(upstream);
  }
}

await main();
