/**
 * Where a server's CPU per request goes between its threads and between user and kernel
 * time, and how many system calls a request makes: the lean floor, the plain gateway, the
 * work floor and moongate on one fake upstream, under the same non-stream load as the
 * throughput rounds (wrk, 32 connections), in alternating rounds.
 *
 * Each thread's user and system time is read from /proc/<pid>/task/<tid>/stat before and
 * after a round: the main thread (JavaScript, the event loop, the collector's own part of a
 * scavenge) apart from the rest (V8's helper threads: the parallel scavenge, concurrent
 * marking and compilation; libuv's pool). With `perf` on the PATH (and the right to trace),
 * `perf stat` counts the server's system calls over the round's load, by name.
 *
 * docs/benchmark.md, "Where the time goes" ("Threads, kernel and system calls"), has what
 * it found. A figure is microseconds or calls per request, summed over the rounds.
 *
 *   npm run build && npm run bench:build
 *   node bench/dist/cpu-split.js [--servers lean,plain,work,moongate] [--rounds 2] [--seconds 4] [--connections 32] [--json]
 *
 * `--json` prints the rows (per request, minor page faults included; `syscalls` null without perf) instead of the lines.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { requestBody } from './bench-context.js';
import { forkBenchChild, nextMessage, stopChild } from './bench-child.js';
import { PLAIN_GATEWAY_TOKEN } from './child-messages.js';
import { launcherNodeFlags, startMoongate, WORK_FLOOR } from './moongate-process.js';
import { CLOCK_TICKS } from './process-sample.js';
import { hasWrk, runWrk } from './wrk-load.js';

const SERVERS = ['lean', 'plain', 'work', 'moongate'] as const;
type ServerName = (typeof SERVERS)[number];

/** The system calls counted by name (each a perf tracepoint); `all` is every one. */
const SYSCALLS = ['read', 'write', 'writev', 'pwrite64', 'epoll_pwait', 'futex'] as const;

interface Server {
  name: ServerName;
  pid: number;
  url: string;
  headers: Record<string, string>;
  stop(): Promise<void>;
}

/** Microseconds of CPU, user and system, of the main thread and of all the others; the process's minor page faults. */
interface ThreadTimes {
  mainUser: number;
  mainSystem: number;
  minorFaults: number;
  otherUser: number;
  otherSystem: number;
}

/** Microseconds of one clock tick of /proc's utime and stime (process-sample.ts reads the rate). */
const CLOCK_TICK_US = 1_000_000 / CLOCK_TICKS;

function threadTimes(pid: number): ThreadTimes {
  const times: ThreadTimes = { mainUser: 0, mainSystem: 0, otherUser: 0, otherSystem: 0, minorFaults: minorFaults(pid) };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // a thread that ended between the listing and the read
    }
    // proc(5): fields are counted after the command name's closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const user = Number(fields[11]) * CLOCK_TICK_US;
    const system = Number(fields[12]) * CLOCK_TICK_US;
    if (tid === String(pid)) {
      times.mainUser += user;
      times.mainSystem += system;
    } else {
      times.otherUser += user;
      times.otherSystem += system;
    }
  }
  return times;
}

/**
 * The process's minor page faults so far, its ended threads' included (proc(5): minflt). On a
 * VM that hands free pages back to its host, a page the process touches for the first time
 * costs about 15 µs (docs/benchmark.md, "Fresh pages, and a long prompt's full collections").
 */
function minorFaults(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[7]);
}

/** Counts the process's system calls while `during` runs, with `perf stat`; null without perf. */
async function countSyscalls(pid: number, seconds: number, during: Promise<unknown>): Promise<Map<string, number> | null> {
  const events = ['raw_syscalls:sys_enter', ...SYSCALLS.map((name) => `syscalls:sys_enter_${name}`)].join(',');
  const perf = spawn('perf', ['stat', '-x,', '-e', events, '-p', String(pid), '--', 'sleep', String(seconds)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  perf.stderr.setEncoding('utf8').on('data', (part: string) => (output += part));
  const exited = new Promise<number | null>((resolve) => {
    perf.on('error', () => resolve(null));
    perf.on('close', (code) => resolve(code));
  });
  await during;
  if ((await exited) !== 0) return null;
  const counts = new Map<string, number>();
  for (const line of output.split('\n')) {
    const [value, , event] = line.split(',');
    if (event === undefined || value === undefined || !/^\d+$/.test(value)) continue;
    counts.set(event === 'raw_syscalls:sys_enter' ? 'all' : event.replace('syscalls:sys_enter_', ''), Number(value));
  }
  // perf ran but could not count ("<not supported>"): as without perf.
  return counts.has('all') ? counts : null;
}

async function startServer(name: ServerName, origin: string): Promise<Server> {
  if (name === 'lean' || name === 'plain') {
    const child = forkBenchChild(
      name === 'lean' ? 'lean-proxy.js' : 'plain-gateway.js',
      { BENCH_UPSTREAM_ORIGIN: origin },
      // As in the bench: the plain gateway with moongate's node flags and its log dropped.
      name === 'plain' ? { dropStdout: true, nodeFlags: await launcherNodeFlags() } : {},
    );
    const { port } = await nextMessage(child, 'ready', 15_000);
    return {
      name,
      pid: child.pid ?? 0,
      url: `http://127.0.0.1:${port}/kimi/chat/completions`,
      headers: name === 'plain' ? { authorization: `Bearer ${PLAIN_GATEWAY_TOKEN}` } : {},
      stop: () => stopChild(child),
    };
  }
  const moongate = await startMoongate(`${origin}/v1`, () => undefined, name === 'work' ? { script: WORK_FLOOR } : {});
  return { name, pid: moongate.pid, url: `${moongate.url}/kimi/chat/completions`, headers: { authorization: `Bearer ${moongate.token}` }, stop: () => moongate.stop() };
}

interface Totals {
  requests: number;
  times: ThreadTimes;
  /** Null once a round could not count (no perf). */
  syscalls: Map<string, number> | null;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      servers: { type: 'string', default: SERVERS.join(',') },
      rounds: { type: 'string', default: '2' },
      seconds: { type: 'string', default: '4' },
      connections: { type: 'string', default: '32' },
      json: { type: 'boolean', default: false },
    },
  });
  const names = values.servers.split(',') as ServerName[];
  for (const name of names) if (!SERVERS.includes(name)) throw new Error(`--servers takes ${SERVERS.join(', ')}, not ${name}`);
  const rounds = Number(values.rounds);
  const seconds = Number(values.seconds);
  const connections = Number(values.connections);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds must be a positive integer');
  if (!Number.isInteger(seconds) || seconds < 1) throw new Error('--seconds must be a whole number of seconds, at least 1');
  if (!Number.isInteger(connections) || connections < 1) throw new Error('--connections must be a positive integer');
  if (!hasWrk()) throw new Error('wrk is needed (apt-get install -y wrk)');

  const upstream = forkBenchChild('fake-upstream.js', { BENCH_UPSTREAM_DELAY_MS: '0' });
  const servers: Server[] = [];
  try {
    const { port } = await nextMessage(upstream, 'ready', 15_000);
    for (const name of names) servers.push(await startServer(name, `http://127.0.0.1:${port}`));
    const load = (server: Server, ms: number) =>
      runWrk({ url: server.url, body: requestBody(false), headers: { 'content-type': 'application/json', ...server.headers }, connections, durationMs: ms });
    // Warm-up: the JIT settles and every connection is open.
    for (const server of servers) await load(server, 2_000);
    const totals = new Map<ServerName, Totals>(names.map((name) => [name, { requests: 0, times: { mainUser: 0, mainSystem: 0, otherUser: 0, otherSystem: 0, minorFaults: 0 }, syscalls: new Map() }]));
    for (let round = 0; round < rounds; round++) {
      // The order turns round each round: a machine whose speed drifts slows each alike.
      for (const server of round % 2 === 0 ? servers : [...servers].reverse()) {
        const before = threadTimes(server.pid);
        const running = load(server, seconds * 1000);
        const syscalls = await countSyscalls(server.pid, seconds, running);
        const result = await running;
        if (result.errors > 0) throw new Error(`${server.name}: ${result.errors} failed requests`);
        const after = threadTimes(server.pid);
        const total = totals.get(server.name) as Totals;
        total.requests += result.requests;
        for (const key of Object.keys(before) as Array<keyof ThreadTimes>) total.times[key] += after[key] - before[key];
        if (syscalls === null) total.syscalls = null;
        else if (total.syscalls !== null) for (const [name, count] of syscalls) total.syscalls.set(name, (total.syscalls.get(name) ?? 0) + count);
      }
    }
    if (values.json) {
      const rows = [...totals].map(([server, { requests, times, syscalls }]) => {
        const per = (value: number): number => Number((value / Math.max(1, requests)).toFixed(2));
        return {
          server,
          requests,
          cpuUsPerRequest: per(times.mainUser + times.mainSystem + times.otherUser + times.otherSystem),
          minorFaultsPerRequest: per(times.minorFaults),
          mainUserUs: per(times.mainUser),
          mainSystemUs: per(times.mainSystem),
          otherUserUs: per(times.otherUser),
          otherSystemUs: per(times.otherSystem),
          syscallsPerRequest: syscalls === null ? null : Object.fromEntries([...syscalls].map(([call, count]) => [call, per(count)])),
        };
      });
      console.log(JSON.stringify(rows, null, 2));
      return;
    }
    const per = (value: number, requests: number): string => (value / Math.max(1, requests)).toFixed(1);
    console.log(`non-stream, ${connections} connections, ${rounds} rounds of ${seconds} s each; µs or calls per request`);
    for (const [name, { requests, times, syscalls }] of totals) {
      const all = times.mainUser + times.mainSystem + times.otherUser + times.otherSystem;
      const calls = syscalls === null ? 'system calls: no perf' : `system calls ${[...syscalls].map(([call, count]) => `${call} ${per(count, requests)}`).join(', ')}`;
      console.log(
        `${name.padEnd(9)} CPU ${per(all, requests)}: main thread user ${per(times.mainUser, requests)}, system ${per(times.mainSystem, requests)}; ` +
          `other threads user ${per(times.otherUser, requests)}, system ${per(times.otherSystem, requests)}; ` +
          `minor faults ${(times.minorFaults / Math.max(1, requests)).toFixed(3)}; ${calls}`,
      );
    }
  } finally {
    for (const server of servers) await server.stop();
    await stopChild(upstream);
  }
}

await main();
