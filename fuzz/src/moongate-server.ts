/**
 * The moongate the fuzzer attacks: the compiled server (`bin/moongate.js serve`) in its own
 * process on port 0, SQLite in a temp DATA_DIR, the simulator at full speed, /metrics on
 * with an operator token, and a global credential with a large balance made by the CLI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { INSPECTOR_LISTENING, INSPECT_PORT_FLAG, liveHeapBytes } from '../../bench/src/live-heap.js';

// Compiled, this file is fuzz/dist/fuzz/src/ (it imports bench/src/live-heap.ts); as source, fuzz/src/.
const ROOT = fileURLToPath(new URL(import.meta.url.includes('/fuzz/dist/') ? '../../../../' : '../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'moongate.js');
const EMAIL = 'fuzz@example.com';

export interface FuzzTarget {
  pid: number;
  port: number;
  url: string;
  token: string;
  metricsToken: string;
  /** Resident memory of the server process, in bytes (Linux /proc; undefined elsewhere). */
  rss(): Promise<number | undefined>;
  /** The live heap after a full collection, over the V8 inspector (opened by SIGUSR1 on first use). */
  liveHeap(): Promise<number>;
  /** Whether the process is still running. */
  alive(): boolean;
  stop(): Promise<void>;
}

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (part: string) => (stdout += part));
    child.stderr.setEncoding('utf8').on('data', (part: string) => (stderr += part));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`moongate ${args[0] ?? ''} failed: ${stderr.trim()}`))));
  });
}

export async function startFuzzTarget(): Promise<FuzzTarget> {
  const dir = await mkdtemp(join(tmpdir(), 'moongate-fuzz-'));
  const metricsToken = randomBytes(24).toString('hex');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATA_DIR: join(dir, 'data'),
    LOG_LEVEL: 'error',
    PORT: '0',
    HOST: '127.0.0.1',
    MOONGATE_SIM_TTFT_MS: '0',
    MOONGATE_SIM_TOKENS_PER_S: '0',
    METRICS_TOKEN: metricsToken,
  };
  for (const key of ['DATABASE_URL', 'REDIS_URL', 'MOONSHOT_API_KEY', 'MOONGATE_CONFIG']) delete env[key];
  const created = await cli(['credential', 'create', '--email', EMAIL, '--global', '--rps', '1000000', '--concurrency', '100000'], env);
  // The token is stdout's one line (the notice goes to stderr).
  const token = created.trim().split('\n')[0] ?? '';
  await cli(['balance', 'add', '--email', EMAIL, '--amount', '100000000'], env);
  // The person's own limits too, so the fuzzer's cases reach the parser and the pipeline rather than a 429.
  await cli(['person', 'limits', '--email', EMAIL, '--rps', '1000000', '--concurrency', '100000'], env);

  const child: ChildProcess = spawn(process.execPath, [INSPECT_PORT_FLAG, BIN, 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let exited = false;
  child.on('exit', () => (exited = true));
  const port = await new Promise<number>((resolve, reject) => {
    const onData = (part: string): void => {
      output += part;
      const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (match?.[1] !== undefined) resolve(Number(match[1]));
    };
    child.stdout?.setEncoding('utf8').on('data', onData);
    child.stderr?.setEncoding('utf8').on('data', onData);
    child.once('exit', (code) => reject(new Error(`moongate exited (${String(code)}) before listening: ${output.trim()}`)));
  });
  // Keep draining the pipes: a full pipe would block the server's writes.
  child.stdout?.resume();
  child.stderr?.resume();
  const pid = child.pid as number;
  let inspector: Promise<string> | undefined;
  const openInspector = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("moongate's inspector did not start within 10 s")), 10_000);
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
  return {
    pid,
    port,
    url: `http://127.0.0.1:${port}`,
    token,
    metricsToken,
    rss: async () => {
      try {
        const status = await readFile(`/proc/${pid}/status`, 'utf8');
        const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
        return kb === undefined ? undefined : Number(kb) * 1024;
      } catch {
        return undefined;
      }
    },
    liveHeap: async () => liveHeapBytes(await (inspector ??= openInspector())),
    alive: () => !exited,
    stop: async () => {
      if (!exited) {
        const gone = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await gone;
        clearTimeout(force);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
