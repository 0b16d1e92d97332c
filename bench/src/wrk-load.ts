/**
 * wrk (Debian's package) as the load generator for the closed-loop runs: a C client that
 * costs the two cores less than any Node client would. A Lua script sets the POST body and
 * prints the summary and latency percentiles as one JSON line. For streams wrk measures the
 * time to the whole response; time to first byte comes from the Node loader.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoadResult } from './child-messages.js';

export interface WrkSettings {
  url: string;
  body: string;
  headers: Record<string, string>;
  connections: number;
  durationMs: number;
}

export function hasWrk(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (error) {
    // wrk --version exits 1 after printing its version; only a missing binary is ENOENT.
    return (error as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

/** Installs wrk with apt-get when running as root on Debian or Ubuntu; says what it did. */
export function installWrk(log: (line: string) => void): boolean {
  if (process.getuid?.() !== 0) {
    log('wrk is missing and this is not root: using the built-in Node loader (apt-get install wrk for better figures)');
    return false;
  }
  try {
    execFileSync('apt-get', ['--version'], { stdio: 'ignore' });
  } catch {
    log('wrk is missing and apt-get is not available: using the built-in Node loader');
    return false;
  }
  log('installing wrk (apt-get install -y wrk)...');
  try {
    execFileSync('apt-get', ['install', '-y', '-qq', 'wrk'], { stdio: 'ignore' });
  } catch {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
    execFileSync('apt-get', ['install', '-y', '-qq', 'wrk'], { stdio: 'ignore' });
  }
  return hasWrk();
}

function luaString(text: string): string {
  if (text.includes(']==]')) throw new Error('the request body cannot be put in a Lua long string');
  return `[==[${text}]==]`;
}

function script(settings: WrkSettings): string {
  const headers = Object.entries(settings.headers)
    .map(([name, value]) => `wrk.headers[ ${luaString(name)} ] = ${luaString(value)}`)
    .join('\n');
  return `wrk.method = "POST"
wrk.body = ${luaString(settings.body)}
${headers}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\nBENCH_RESULT {"requests":%d,"durationUs":%d,"errors":%d,"p50Us":%.0f,"p99Us":%.0f}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`;
}

export async function runWrk(settings: WrkSettings): Promise<LoadResult> {
  const dir = await mkdtemp(join(tmpdir(), 'moongate-bench-wrk-'));
  try {
    const path = join(dir, 'post.lua');
    await writeFile(path, script(settings));
    const threads = Math.max(1, Math.min(2, settings.connections));
    const seconds = Math.max(1, Math.round(settings.durationMs / 1000));
    const args = ['-t', String(threads), '-c', String(settings.connections), '-d', `${seconds}s`, '--timeout', '10s', '-s', path, settings.url];
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.setEncoding('utf8').on('data', (part: string) => (text += part));
      child.stderr.setEncoding('utf8').on('data', (part: string) => (text += part));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`wrk exited with ${code}: ${text.trim()}`))));
    });
    const line = /BENCH_RESULT (\{.*\})/.exec(output)?.[1];
    if (line === undefined) throw new Error(`wrk printed no result: ${output.trim()}`);
    const raw = JSON.parse(line) as { requests: number; durationUs: number; errors: number; p50Us: number; p99Us: number };
    const ok = raw.requests - raw.errors;
    return {
      type: 'load-result',
      requests: ok,
      errors: raw.errors,
      durationMs: raw.durationUs / 1000,
      rps: (ok * 1_000_000) / raw.durationUs,
      p50Ms: raw.p50Us / 1000,
      p99Ms: raw.p99Us / 1000,
      ttfbP50Ms: null,
      ttfbP99Ms: null,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
