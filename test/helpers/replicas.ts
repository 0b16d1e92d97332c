/**
 * N moongate replicas as an operator runs them: `bin/moongate.js serve` child processes on
 * one PostgreSQL schema (DATABASE_URL) and one Redis (REDIS_URL, with the test file's key
 * prefix), each on its own port, all started at the same moment.
 *
 * A GatedUpstream is the OpenAI-compatible server behind them: it counts the requests that
 * reach it (the admitted ones) and holds each until the test releases it, so a test knows
 * "slow" requests are running without waiting on the clock.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFixture } from './fake-upstream.js';
import { ensureBuilt, serveMoongate, type ServingMoongate } from './moongate-cli.js';

const STREAM = readFixture('openai-compatible/vllm-reasoning-stream.sse');

export class GatedUpstream {
  readonly #server: Server;
  readonly #held: ServerResponse[] = [];
  readonly #arrivalWaiters: Array<() => void> = [];
  /** Requests that reached the upstream. */
  arrivals = 0;
  /** Hold requests until release() (true), or answer them at once (false). */
  gated = true;

  private constructor() {
    this.#server = createServer((request: IncomingMessage, response: ServerResponse) => {
      request.resume();
      request.on('end', () => {
        this.arrivals += 1;
        for (const wake of this.#arrivalWaiters.splice(0)) wake();
        if (this.gated) this.#held.push(response);
        else this.#answer(response);
      });
    });
  }

  static async start(): Promise<GatedUpstream> {
    const upstream = new GatedUpstream();
    await new Promise<void>((resolve) => upstream.#server.listen(0, '127.0.0.1', resolve));
    return upstream;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/v1`;
  }

  /** Resolves at the next arrival. */
  nextArrival(): Promise<void> {
    return new Promise((resolve) => this.#arrivalWaiters.push(resolve));
  }

  /** Answers every held request with a complete stream. */
  release(): void {
    for (const response of this.#held.splice(0)) this.#answer(response);
  }

  async close(): Promise<void> {
    for (const response of this.#held.splice(0)) response.destroy();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #answer(response: ServerResponse): void {
    response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
    response.end(STREAM);
  }
}

export interface Replicas {
  /** Each replica's URL (a restarted one listens on a new port: see restart). */
  readonly urls: readonly string[];
  readonly children: readonly ServingMoongate[];
  /** Starts replica `i` again with the same environment (its DATA_DIR: its settlement spool), after it died. */
  restart(i: number): Promise<ServingMoongate>;
  stop(): Promise<void>;
}

/** Starts `count` replicas sharing `databaseUrl` and Redis; `upstream` serves every model. */
export async function startReplicas(
  count: number,
  options: { databaseUrl: string; redisUrl: string; redisKeyPrefix: string; upstream: GatedUpstream; env?: Record<string, string> },
): Promise<Replicas> {
  await ensureBuilt();
  const dir = await mkdtemp(join(tmpdir(), 'moongate-replicas-'));
  const configFile = join(dir, 'moongate.config.json');
  await writeFile(configFile, JSON.stringify({ channels: [{ name: 'gated', kind: 'openai-compatible', baseUrl: options.upstream.baseUrl }] }));
  const envs = Array.from({ length: count }, (_, i) => ({
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: options.redisUrl,
    REDIS_KEY_PREFIX: options.redisKeyPrefix,
    REDIS_FALLBACK_REPLICAS: String(count),
    MOONGATE_CONFIG: configFile,
    DATA_DIR: join(dir, `replica-${i}`),
    ...options.env,
  }));
  const started = await Promise.allSettled(envs.map((env) => serveMoongate(env)));
  const children = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const urls = children.map((c) => c.url);
  const stop = async (): Promise<void> => {
    await Promise.all(
      children.map(async ({ child, exited }) => {
        child.kill('SIGKILL');
        await exited;
      }),
    );
    await rm(dir, { recursive: true, force: true });
  };
  const failed = started.find((s) => s.status === 'rejected');
  if (failed !== undefined) {
    await stop();
    throw failed.reason;
  }
  const restart = async (i: number): Promise<ServingMoongate> => {
    const env = envs[i];
    if (env === undefined) throw new Error(`no replica ${i}`);
    const child = await serveMoongate(env);
    children[i] = child;
    urls[i] = child.url;
    return child;
  };
  return { urls, children, restart, stop };
}
