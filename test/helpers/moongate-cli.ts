/**
 * The real `moongate` binary as a child process (bin/moongate.js imports dist/): a build
 * check, one-shot commands, and a long-running `serve`.
 */
import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'moongate.js');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Settings a developer's shell may carry that would point a test's child elsewhere. */
const NOT_INHERITED = ['DATABASE_URL', 'MOONSHOT_API_KEY', 'MOONGATE_CONFIG'];

/** The test's environment, without NOT_INHERITED unless given, and without keys given as undefined. */
function childEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const merged: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const name of NOT_INHERITED) if (!(name in env)) delete merged[name];
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete merged[key];
  return merged;
}

/** Runs `moongate <args>` to completion, with `stdin` as its standard input when given. */
export function runMoongate(args: string[], env: Record<string, string | undefined>, stdin?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: childEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
    // No stdin given: an empty, closed one, as with `< /dev/null`.
    child.stdin.end(stdin ?? '');
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts `moongate <args>` and leaves it running, its output unread. */
export function spawnMoongate(args: string[], env: Record<string, string | undefined>): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: childEnv(env), stdio: 'pipe' });
}

export interface ServingMoongate {
  child: ChildProcess;
  url: string;
  /** Resolves with the exit code or signal. */
  exited: Promise<string>;
}

/** Starts `moongate serve` on port 0 and resolves once it prints where it listens. */
export function serveMoongate(env: Record<string, string | undefined>): Promise<ServingMoongate> {
  const child = spawn(process.execPath, [BIN, 'serve'], {
    cwd: ROOT,
    env: childEnv({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<string>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? String(code))));
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const url = /listening on (http:\/\/\S+)/.exec(stdout)?.[1];
      if (url !== undefined) resolve({ child, url, exited });
    });
    child.on('error', reject);
    void exited.then((how) => reject(new Error(`moongate serve exited (${how}) before listening:\n${stderr}`)));
  });
}

/** Source files whose compiled output is missing or older than they are. */
function staleSources(): string[] {
  const stale: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        const output = join(ROOT, 'dist', relative(join(ROOT, 'src'), path).replace(/\.ts$/, '.js'));
        const built = statSync(output, { throwIfNoEntry: false });
        if (built === undefined || built.mtimeMs < statSync(path).mtimeMs) stale.push(relative(ROOT, path));
      }
    }
  };
  walk(join(ROOT, 'src'));
  return stale;
}

/**
 * Brings dist/ up to date when some source is newer (npm test builds first anyway). The build
 * is incremental (`tsc -b`): it does not rewrite an output whose source changed only in its
 * timestamp (a checkout, a merge), so its exit code, not the timestamps, says whether it worked.
 */
export async function ensureBuilt(): Promise<void> {
  if (staleSources().length === 0) return;
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [tsc, '-b', 'tsconfig.build.json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    child.on('error', reject);
    child.on('close', (exit) => resolve({ code: exit, output: text }));
  });
  if (code !== 0) throw new Error(`the build of src/ failed:\n${output}`);
}
