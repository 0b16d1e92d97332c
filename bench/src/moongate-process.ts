/**
 * moongate as the operator runs it: `node bin/moongate.js serve` in its own process, on the
 * embedded default (SQLite under a temp DATA_DIR) at the default LOG_LEVEL=info, with a bench credential made by the CLI
 * against the same DATA_DIR first. Whatever pipeline pieces this build has (limits,
 * billing, channels) are switched on where the CLI offers them, and reported.
 *
 * The fuzzer starts its target here too (fuzz/src/moongate-server.ts), on the built-in
 * simulator instead of the fake upstream: one launcher, so the two cannot drift apart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { INSPECTOR_LISTENING, INSPECTOR_NOISE, INSPECT_PORT_FLAG } from './live-heap.js';

/**
 * The repository: the nearest folder above this file with bin/moongate.js. This file runs
 * from bench/src (tests), bench/dist (the bench) and fuzz/dist/bench/src (the fuzzer's build).
 */
function repositoryRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'bin', 'moongate.js'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`bin/moongate.js not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
  return dir;
}

const ROOT = repositoryRoot();
const BIN = join(ROOT, 'bin', 'moongate.js');
/** The allocation sampler, compiled next to this file. */
const ALLOC_SAMPLER = fileURLToPath(new URL('./alloc-sampler.js', import.meta.url));
/** moongate's required steps on node:http with nothing between them, run with `script` (work-floor.ts). */
export const WORK_FLOOR = fileURLToPath(new URL('./work-floor.js', import.meta.url));
const EMAIL = 'bench@example.com';

export interface MoongateProcess {
  pid: number;
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  token: string;
  /** Opens moongate's inspector (SIGUSR1) on first use and returns its WebSocket address (live-heap.ts). */
  inspector(): Promise<string>;
  /** One line per pipeline piece: what is on and how it was switched on, or why not. */
  pipeline: string[];
  /** Whether the process is still running. */
  alive(): boolean;
  stop(): Promise<void>;
}

/**
 * The one place that decides how moongate reaches the fake upstream. MOONGATE_CONFIG names
 * an openai-compatible channel (the channels format); until a build reads it, the Moonshot
 * provider (an OpenAI-compatible subclass) is pointed at the same server. Both are set:
 * harmless once channels exist.
 */
export async function upstreamEnv(upstreamBaseUrl: string, dir: string): Promise<Record<string, string>> {
  const configPath = join(dir, 'moongate-bench-config.json');
  const channels = [
    { name: 'fake', kind: 'openai-compatible', baseUrl: upstreamBaseUrl, apiKey: 'bench', models: '*', maxConcurrency: 100_000 },
  ];
  await writeFile(configPath, JSON.stringify({ channels }));
  return { MOONGATE_CONFIG: configPath, MOONSHOT_API_KEY: 'bench', MOONSHOT_BASE_URL: upstreamBaseUrl };
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (part: string) => (stdout += part));
    child.stderr.setEncoding('utf8').on('data', (part: string) => (stderr += part));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * The node flags in bin/moongate.js's `#!/usr/bin/env -S node <flags>` line: what an operator
 * running `moongate serve` (or `npm start`) gets, so the bench runs moongate with them too.
 */
export async function launcherNodeFlags(): Promise<string[]> {
  const shebang = (await readFile(BIN, 'utf8')).split('\n', 1)[0] ?? '';
  const flags = /^#!\S*env\s+(?:-S\s+)?node\s+(.*)$/.exec(shebang)?.[1];
  return flags === undefined ? [] : flags.trim().split(/\s+/);
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}

/** A credential with limits high enough never to be the bottleneck, where the CLI has limits. */
async function createCredential(env: NodeJS.ProcessEnv, pipeline: string[], global: boolean): Promise<string> {
  const scope = global ? ['--global'] : [];
  const limited = await cli(['credential', 'create', '--email', EMAIL, ...scope, '--rps', '1000000', '--concurrency', '100000'], env);
  if (limited.code === 0) {
    // The person's own limits (across their credentials) are checked in the same call: lifted the same way.
    const person = await cli(['person', 'limits', '--email', EMAIL, '--rps', '1000000', '--concurrency', '100000'], env);
    pipeline.push(
      person.code === 0
        ? 'limits: on (credential and person with --rps 1000000 --concurrency 100000)'
        : `limits: on (credential with --rps 1000000 --concurrency 100000; person limits not in this build: ${firstLine(person.stderr)})`,
    );
    // The token is stdout's one line (any notice goes to stderr).
    return limited.stdout.trim().split('\n')[0] ?? '';
  }
  pipeline.push(`limits: not in this build (credential create --rps: ${firstLine(limited.stderr)})`);
  const plain = await cli(['credential', 'create', '--email', EMAIL, ...scope], env);
  if (plain.code !== 0) throw new Error(`moongate credential create failed: ${plain.stderr.trim()}`);
  return plain.stdout.trim();
}

async function addBalance(env: NodeJS.ProcessEnv, pipeline: string[], amount: string): Promise<void> {
  const added = await cli(['balance', 'add', '--email', EMAIL, '--amount', amount], env);
  pipeline.push(
    added.code === 0
      ? `billing: on (balance add --amount ${amount}: holds, settlement, usage log)`
      : `billing: not in this build (no \`moongate balance add\`: ${firstLine(added.stderr)})`,
  );
}

/**
 * A data directory with the bench's credential (its limits lifted) and balance, made by the
 * CLI as `startMoongate` makes them: the credential's token. step-costs.ts times moongate's
 * steps against it, in its own process.
 */
export async function benchCredential(dataDir: string): Promise<string> {
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir };
  for (const key of ['DATABASE_URL', 'REDIS_URL']) delete env[key];
  const pipeline: string[] = [];
  const token = await createCredential(env, pipeline, false);
  await addBalance(env, pipeline, '1000000');
  return token;
}

export interface MoongateFlags {
  /** Run moongate under `node --cpu-prof`, the profile written there when it stops. */
  profileDir?: string;
  /** Sample moongate's allocations (alloc-sampler.ts), the profile written there when it stops. */
  allocDir?: string;
  /** Extra node flags for moongate alone (heap sizes, say). */
  nodeFlags?: string[];
  /** More environment (REDIS_URL, DATABASE_URL for the scale phase), set after the defaults. */
  env?: Record<string, string>;
  /** Another replica on the same store: use this token instead of creating a credential and a balance. */
  token?: string;
  /** Every part of moongate's stdout after its start-up lines (the access log, and what node flags such as --trace-gc-nvp print). */
  onStdout?: (part: string) => void;
  /** Make the credential with `--global` (usable on every service). */
  globalCredential?: boolean;
  /** The balance added to the credential's person, in the currency (default 1000000). */
  balance?: string;
  /**
   * Run this script in place of `bin/moongate.js serve`, with the same node flags, data
   * directory, credential and channel (ab-compare's `work` server: work-floor.ts).
   */
  script?: string;
}

/**
 * Starts moongate against `upstreamBaseUrl`, or, when it is undefined, against its built-in
 * simulator (no channel and no Moonshot key set, whatever this shell has).
 */
export async function startMoongate(
  upstreamBaseUrl: string | undefined,
  log: (line: string) => void,
  flags: MoongateFlags = {},
): Promise<MoongateProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'moongate-bench-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATA_DIR: join(dir, 'data'),
    // The default, as `npm start` runs it (issue 20): the access log is part of the cost.
    LOG_LEVEL: 'info',
    PORT: '0',
    HOST: '127.0.0.1',
  };
  for (const key of ['DATABASE_URL', 'REDIS_URL', 'MOONSHOT_API_KEY', 'MOONSHOT_BASE_URL', 'MOONGATE_CONFIG']) delete env[key];
  if (upstreamBaseUrl !== undefined) Object.assign(env, await upstreamEnv(upstreamBaseUrl, dir));
  Object.assign(env, flags.env);
  const store = env.DATABASE_URL === undefined ? 'SQLite (embedded default) in a temp DATA_DIR' : 'PostgreSQL (DATABASE_URL)';
  const pipeline = [`store: ${store}`, `admission limits kept: ${env.REDIS_URL === undefined ? 'in this process' : 'in Redis (REDIS_URL)'}`];
  let token = flags.token;
  if (token === undefined) {
    pipeline.push('auth: bearer credential from `moongate credential create`');
    token = await createCredential(env, pipeline, flags.globalCredential === true);
    await addBalance(env, pipeline, flags.balance ?? '1000000');
  }

  const profile = flags.profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', flags.profileDir];
  if (flags.allocDir !== undefined) {
    profile.push('--import', ALLOC_SAMPLER);
    env.BENCH_ALLOC_DIR = flags.allocDir;
  }
  // The flags moongate's own launcher gives node (its shebang), then the bench's; for a V8
  // flag given twice, the last one counts, so --moongate-node-flags can override it.
  const ownFlags = await launcherNodeFlags();
  const nodeArgs = [...ownFlags, ...profile, ...(flags.nodeFlags ?? [])];
  // Not among the flags reported: it only says where an inspector would listen (live-heap.ts).
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, INSPECT_PORT_FLAG, flags.script ?? BIN, 'serve'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  // stdout is kept until the startup lines are read; after that it is the access log (one
  // line or more per request at LOG_LEVEL=info), still read from the pipe as a log
  // collector would, and dropped.
  let keepStdout = true;
  child.stderr?.setEncoding('utf8').on('data', (part: string) => {
    output += part;
    for (const line of part.trim().split('\n')) if (line !== '' && !INSPECTOR_NOISE.test(line)) log(`moongate: ${line}`);
  });
  let inspector: Promise<string> | undefined;
  const openInspector = (): Promise<string> =>
    new Promise((resolve, reject) => {
      // `output` has every stderr part by the time this listener (added after its) runs.
      const timer = setTimeout(() => {
        child.stderr?.off('data', check);
        reject(new Error("moongate's inspector did not start within 10 s"));
      }, 10_000);
      const check = (): void => {
        const found = INSPECTOR_LISTENING.exec(output)?.[1];
        if (found === undefined) return;
        clearTimeout(timer);
        child.stderr?.off('data', check);
        resolve(found);
      };
      child.stderr?.on('data', check);
      child.kill('SIGUSR1');
    });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`moongate did not start within 30 s: ${output.trim()}`)), 30_000);
    child.stdout?.setEncoding('utf8').on('data', (part: string) => {
      if (!keepStdout) {
        flags.onStdout?.(part);
        return;
      }
      output += part;
      const found = /listening on (http:\/\/\S+)/.exec(output)?.[1];
      if (found !== undefined) {
        clearTimeout(timer);
        resolve(found);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`moongate exited (code ${code}) before listening: ${output.trim()}`));
    });
  });
  await new Promise((resolve) => setTimeout(resolve, 200));
  // `moongate serve` lists its channels under `channels:` (older builds printed `upstream:`).
  const channelLine = /channels:\s*\n\s+(.*)/.exec(output)?.[1]?.trim();
  const upstreamLine = channelLine ?? /upstream:\s+(.*)/.exec(output)?.[1]?.trim() ?? 'unknown';
  keepStdout = false;
  pipeline.push(`upstream: ${upstreamLine}`);
  pipeline.push(`log level: ${env.LOG_LEVEL ?? 'info'} (the access log read from stdout by the bench and dropped)`);
  if (nodeArgs.length > 0) pipeline.push(`node flags: ${nodeArgs.join(' ')}${ownFlags.length > 0 ? ` (${ownFlags.join(' ')} from bin/moongate.js's shebang)` : ''}`);
  if (child.pid === undefined) throw new Error('moongate has no pid');
  return {
    pid: child.pid,
    url,
    token,
    pipeline,
    inspector: () => (inspector ??= openInspector()),
    alive: () => child.exitCode === null && child.signalCode === null,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await gone;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
