/**
 * The real `moongate` binary as a child process, with stdin. bin/moongate.js imports dist/,
 * so ensureBuilt() brings the build up to date first (only when a source is newer than its output).
 * (test/integration/cli-credential.test.ts has its own copy of the build check.)
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'moongate.js');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runMoongate(args: string[], env: { DATA_DIR: string; DATABASE_URL?: string }, stdin = ''): Promise<CliRun> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (env.DATABASE_URL === undefined) delete childEnv.DATABASE_URL;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

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

export async function ensureBuilt(): Promise<void> {
  if (staleSources().length === 0) return;
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    child.on('error', reject);
    child.on('close', () => resolve(text));
  });
  const stillStale = staleSources();
  if (stillStale.length > 0) throw new Error(`the build left ${stillStale.join(', ')} stale:\n${output}`);
}
