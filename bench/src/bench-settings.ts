/** The bench's command line: its phases, options and their defaults (`npm run bench -- --help`). */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** In the order they run: the soak comes before the open streams, whose memory takes a while to be given back. */
export const PHASES = ['rps', 'latency', 'prompt', 'memory', 'streams', 'settle', 'scale'] as const;
/** Left out of --quick unless --only names them: scale starts three more moongates, PostgreSQL and Redis included. */
const NOT_QUICK: readonly Phase[] = ['scale'];
export type Phase = (typeof PHASES)[number];
export const USAGE = `usage: npm run bench -- [options]
  --quick               a few seconds in all (the smoke test): tiny runs, no wrk install
  --only <phases>       comma-separated: ${PHASES.join(',')} (default: all; --quick leaves out scale)
  --duration <s>        seconds of throughput measured per server and mode (default 8)
  --rounds <n>          alternating rounds the throughput duration, and the one-at-a-time requests, are split into (default 4)
  --connections <n>     connections for the throughput runs (default 32)
  --modes <list>        the rps phase's modes: non-stream,stream (default both; a profile of one load: --modes non-stream)
  --streams <list>      open-stream counts to hold (default 1000,5000)
  --soak <s>            memory soak length (default 300)
  --delay <ms>          the fake upstream's delay before answering (default 0)
  --loader <name>       auto | wrk | node (default auto: wrk, installed with apt-get if missing and root)
  --out <dir>           where the results go (default bench/results)
  --profile <dir>       run moongate under node --cpu-prof; the .cpuprofile lands in <dir>
  --alloc-profile <dir> sample what moongate allocates (garbage included); the .heapprofile lands in <dir>
  --moongate-node-flags=<flags>  extra node flags for moongate alone, space-separated (e.g. "--moongate-node-flags=--max-old-space-size=256")`;

export interface Settings {
  quick: boolean;
  phases: Phase[];
  durationMs: number;
  /** The throughput runs are split into this many alternating rounds per server. */
  rounds: number;
  /** The rps phase's modes: false is non-stream, true is stream. */
  rpsModes: boolean[];
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
  allocProfile: string | undefined;
  moongateNodeFlags: string[];
}

export function parseSettings(argv: string[]): Settings {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      duration: { type: 'string' },
      rounds: { type: 'string' },
      connections: { type: 'string' },
      modes: { type: 'string' },
      streams: { type: 'string' },
      soak: { type: 'string' },
      delay: { type: 'string' },
      loader: { type: 'string', default: 'auto' },
      out: { type: 'string', default: join(ROOT, 'bench', 'results') },
      profile: { type: 'string' },
      'alloc-profile': { type: 'string' },
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
  const phases = (values.only ?? PHASES.filter((p) => !quick || !NOT_QUICK.includes(p)).join(',')).split(',').map((p) => p.trim());
  for (const phase of phases) {
    if (!(PHASES as readonly string[]).includes(phase)) throw new Error(`--only: unknown phase ${JSON.stringify(phase)} (phases: ${PHASES.join(', ')})`);
  }
  const loader = values.loader;
  if (loader !== 'auto' && loader !== 'wrk' && loader !== 'node') throw new Error('--loader must be auto, wrk or node');
  const rpsModes = (values.modes ?? 'non-stream,stream').split(',').map((mode) => {
    if (mode.trim() === 'non-stream') return false;
    if (mode.trim() === 'stream') return true;
    throw new Error(`--modes: unknown mode ${JSON.stringify(mode)} (non-stream, stream)`);
  });
  const streams = (values.streams ?? (quick ? '10,20' : '1000,5000')).split(',').map((n) => number('streams', n, 0));
  return {
    quick,
    phases: phases as Phase[],
    durationMs: number('duration', values.duration, quick ? 0.5 : 8) * 1000,
    rounds: Math.max(1, Math.round(number('rounds', values.rounds, quick ? 1 : 4))),
    rpsModes,
    warmupMs: quick ? 0 : 2_000,
    connections: number('connections', values.connections, 32),
    streams,
    soakMs: number('soak', values.soak, quick ? 1.5 : 300) * 1000,
    afterLoadMs: quick ? 500 : 30_000,
    sequentialRequests: quick ? 20 : 2_000,
    delayMs: number('delay', values.delay, 0),
    loader: quick && loader === 'auto' ? 'node' : loader,
    out: values.out,
    profile: values.profile,
    allocProfile: values['alloc-profile'],
    moongateNodeFlags: (values['moongate-node-flags'] ?? '').split(' ').filter((flag) => flag !== ''),
  };
}
