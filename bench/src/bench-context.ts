/**
 * What every phase works with: the servers under test, the load generator, the fake
 * upstream's controls, and the progress log.
 */
import type { Settings } from './bench-settings.js';
import type { LoadResult, UpstreamMode } from './child-messages.js';
import { NodeLoaderClient } from './node-loader-client.js';
import { BENCH_MODEL } from './seed-replies.js';
import { runWrk } from './wrk-load.js';

export const MiB = 1024 * 1024;

const runStartedAt = performance.now();
/** Progress on stderr, with the seconds since the start; the table goes to stdout. */
export const log = (line: string): void => {
  const seconds = ((performance.now() - runStartedAt) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`${seconds}s  ${line}\n`);
};

/** A server under test, a floor, or the upstream itself (for "added" latency). */
export interface Target {
  name: 'moongate' | 'lean floor' | 'bare proxy' | 'work floor' | 'plain gateway' | 'upstream';
  url: string;
  pid: number;
  headers: Record<string, string>;
}

/** Environment variables given on a command line as `K=V,K2=V2` (ab-compare's --a-env, gc-promotion's --env). */
export function envOf(list: string | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of list?.split(',') ?? []) {
    const at = pair.indexOf('=');
    if (at > 0) env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return env;
}

/** The seed's "Hello", or another prompt (the prompt-size phase). */
export function requestBody(stream: boolean, content = 'Hello'): string {
  return JSON.stringify({ model: BENCH_MODEL, messages: [{ role: 'user', content }], ...(stream ? { stream: true } : {}) });
}

export interface Bench {
  settings: Settings;
  useWrk: boolean;
  upstreamUrl: string;
  moongate: Target;
  /** The lean floor (lean-proxy.ts): every ratio is against it. */
  floor: Target;
  /** The piping bare proxy (bare-proxy.ts): a second, softer floor, shown beside it. */
  bare: Target;
  /**
   * The work floor (work-floor.ts): moongate's required steps with nothing between them,
   * measured beside the others on the non-stream load; undefined when it did not start.
   */
  work: Target | undefined;
  /**
   * The plain gateway (plain-gateway.ts): a gateway's duties written plainly, with no code of
   * moongate's, measured beside the others on the non-stream load; undefined when it did not start.
   */
  plain: Target | undefined;
  upstream: Target;
  /** Highest RSS seen under load, per process. */
  peakRss: Map<number, number>;
  loader: NodeLoaderClient;
  /** moongate's inspector address, opened on first use (live-heap.ts). */
  moongateInspector(): Promise<string>;
}

export interface LoadOptions {
  stream: boolean;
  connections: number;
  durationMs: number;
  requests?: number;
  ratePerSecond?: number;
}

export async function load(bench: Bench, target: Target, options: LoadOptions): Promise<LoadResult> {
  const body = requestBody(options.stream);
  const headers = { 'content-type': 'application/json', ...target.headers };
  if (bench.useWrk && options.requests === undefined && options.ratePerSecond === undefined) {
    return runWrk({ url: target.url, body, headers, connections: options.connections, durationMs: options.durationMs });
  }
  return bench.loader.run({ url: target.url, body, headers, ...options });
}

export function noteErrors(result: LoadResult, what: string, notes: string[]): void {
  if (result.errors > 0) {
    const line = `${what}: ${result.errors} failed requests (transport errors or non-2xx)`;
    log(`  warning: ${line}`);
    notes.push(line);
  }
}

export async function setUpstreamMode(bench: Bench, mode: Partial<UpstreamMode>): Promise<void> {
  const response = await fetch(`${bench.upstreamUrl}/__bench/mode`, { method: 'POST', body: JSON.stringify(mode) });
  if (response.status !== 204) throw new Error(`the fake upstream refused the mode: ${response.status}`);
}

export async function upstreamStats(bench: Bench): Promise<{ requests: number; open: number }> {
  const response = await fetch(`${bench.upstreamUrl}/__bench/stats`);
  return (await response.json()) as { requests: number; open: number };
}

export const fixed = (value: number, digits = 3): number => Number(value.toFixed(digits));
