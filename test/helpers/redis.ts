/**
 * Redis for integration tests: a real server (TEST_REDIS_URL, default redis://127.0.0.1:6379),
 * and a key prefix per test file, so files running in parallel never see each other's keys.
 *
 * When Redis cannot be reached, a local run skips the Redis suites with a loud warning, but
 * under CI=true the test file fails: a CI run must never pass by skipping (as postgres.ts).
 *
 * A TcpProxy stands between moongate and Redis when a test needs Redis to "go down" without
 * touching the shared server: cut() drops every connection and refuses new ones, resume()
 * lets them through again.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, describe } from 'vitest';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const IN_CI = process.env.CI === 'true';

async function probe(): Promise<boolean> {
  const client = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 3_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch (error) {
    const reason = error instanceof Error ? error.message || error.name : String(error);
    const message = `Redis is not reachable at ${TEST_REDIS_URL} (${reason}); set TEST_REDIS_URL or start Redis.`;
    if (IN_CI) throw new Error(`${message} CI=true, so the Redis suites fail instead of skipping.`, { cause: error });
    console.warn(`\n!!! ${message}\n!!! SKIPPING the Redis test suites. They run (and must pass) in CI.\n`);
    return false;
  } finally {
    client.disconnect();
  }
}

// Top-level await: describe() must know at collection time whether to skip.
export const redisAvailable = await probe();

/** A key prefix no other test file (or run) uses; its keys are deleted after the file. */
export function useRedisPrefix(): string {
  const prefix = `test:${process.pid}:${randomBytes(4).toString('hex')}:`;
  afterAll(async () => {
    if (!redisAvailable) return;
    const client = new Redis(TEST_REDIS_URL);
    try {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, found] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        keys.push(...found);
      } while (cursor !== '0');
      if (keys.length > 0) await client.del(...keys);
    } finally {
      client.disconnect();
    }
  });
  return prefix;
}

/** A describe block that needs Redis: skipped locally without one, failed in CI. */
export function describeWithRedis(name: string, body: () => void): void {
  describe.skipIf(!redisAvailable)(name, body);
}

/** A TCP proxy on 127.0.0.1:port → Redis, which the test can cut and resume, or make lose a reply. */
export class TcpProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #cut = false;
  #loseReply = false;

  private constructor(target: { host: string; port: number }) {
    this.#server = createServer((client) => {
      if (this.#cut) {
        client.destroy();
        return;
      }
      const upstream = connect(target.port, target.host);
      this.#sockets.add(client).add(upstream);
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
        this.#sockets.delete(client);
        this.#sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream);
      upstream.on('data', (chunk: Buffer) => {
        if (!this.#loseReply) {
          client.write(chunk);
          return;
        }
        // Redis ran the command; its reply never arrives, and the connection is gone.
        this.#loseReply = false;
        drop();
      });
    });
  }

  static async start(targetUrl: string = TEST_REDIS_URL): Promise<TcpProxy> {
    const url = new URL(targetUrl);
    const proxy = new TcpProxy({ host: url.hostname, port: Number(url.port || 6379) });
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    return `redis://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** Drops every open connection and refuses new ones, as a Redis that went down. */
  cut(): void {
    this.#cut = true;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  resume(): void {
    this.#cut = false;
  }

  /**
   * The next reply Redis sends is dropped with its connection (new connections are let
   * through): a command Redis ran whose caller hears only that the connection closed.
   */
  loseNextReply(): void {
    this.#loseReply = true;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/**
 * A `redis-server` of the test's own, on a free port, that the test may kill and start again
 * (the shared one at TEST_REDIS_URL must never be restarted: other files use it). Nothing is
 * kept on disk, as in production: a restart is an empty Redis.
 */
export class OwnRedis {
  readonly port: number;
  #child: ChildProcess | undefined;

  private constructor(port: number) {
    this.port = port;
  }

  /** Starts one; resolves undefined (with a loud warning) when redis-server is missing, and throws under CI=true. */
  static async start(): Promise<OwnRedis | undefined> {
    if (!ownRedisAvailable) return undefined;
    const port = await freePort();
    const own = new OwnRedis(port);
    await own.restart();
    return own;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts the server (again) on the same port; resolves once it accepts connections. */
  async restart(): Promise<void> {
    if (this.#child !== undefined) throw new Error('this Redis is running');
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk;
        if (out.includes('Ready to accept connections')) resolve();
      });
      child.on('error', reject);
      child.on('exit', (code) => reject(new Error(`redis-server exited (${code}) before it was ready:\n${out}`)));
    });
  }

  /** SIGKILL: the server is gone at once, with everything it held. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    this.#child = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function hasRedisServer(): boolean {
  const found = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  if (found.error === undefined && found.status === 0) return true;
  const message = 'redis-server is not installed: the tests that restart their own Redis cannot run.';
  if (IN_CI) throw new Error(`${message} CI=true, so they fail instead of skipping.`);
  console.warn(`\n!!! ${message}\n!!! SKIPPING them. They run (and must pass) in CI.\n`);
  return false;
}

/** Whether this machine can start a redis-server of its own (checked once, at collection). */
export const ownRedisAvailable = hasRedisServer();
