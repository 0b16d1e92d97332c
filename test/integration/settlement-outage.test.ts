/**
 * A settlement that fails is never lost (docs/billing.md, "When the store is down"): the
 * store goes away while requests finish (SQLite: another connection holds the write lock;
 * PostgreSQL: a TCP proxy between moongate and the server cuts every connection under
 * load). Responses are still served; their settlements wait in the spool, /readyz and
 * /metrics say so, and once the store is back every completed response is billed exactly
 * once, no hold remains, and each wallet equals its usage log. A restart replays the spool
 * before listening, and replaying it twice bills nothing twice.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { Provider } from '../../src/providers/provider.js';
import { startServer, type RunningServer } from '../../src/server.js';
import type { Store } from '../../src/store/open-store.js';
import { fundedCredential } from '../helpers/funded-credential.js';
import { GatedProvider } from '../helpers/gated-provider.js';
import { describeWithPostgres, TEST_DATABASE_URL } from '../helpers/postgres.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

const BALANCE = 1_000_000_000;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const METRICS_TOKEN = 'metrics-token-for-the-outage-tests';

async function start(env: Record<string, string>, provider?: Provider): Promise<RunningServer> {
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', MOONGATE_SIM_TTFT_MS: '0', MOONGATE_SIM_TOKENS_PER_S: '2000', METRICS_TOKEN, ...env });
  return startServer(config, { logger: false, webRoot: false, ...(provider === undefined ? {} : { provider }) });
}

/** Re-checks `check` every 10 ms (requests, sockets and timers move on meanwhile), for up to `limitMs`. */
async function until(check: () => boolean | Promise<boolean>, what: string, limitMs = 20_000): Promise<void> {
  for (let waited = 0; !(await check()); waited += 10) {
    if (waited > limitMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Reply {
  traceId: string;
  /** The whole response arrived: [DONE] for a stream, the usage of a JSON completion. */
  complete: boolean;
}

async function chat(url: string, token: string, stream: boolean): Promise<Reply> {
  const res = await fetch(`${url}/kimi/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ model: 'kimi-k2-0905-preview', messages: [{ role: 'user', content: 'Tell me a story' }], stream, max_tokens: 60 }),
  });
  const text = await res.text();
  const traceId = res.headers.get('x-trace-id') ?? '';
  const complete = res.status === 200 && (stream ? text.includes('data: [DONE]') && !text.includes('"success":false') : text.includes('"usage"'));
  return { traceId, complete };
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? NaN);
}

/** Every completed response billed once, nothing held, each wallet equal to its usage log. */
async function expectBilledOnce(store: Store, personId: string, complete: readonly string[]): Promise<number> {
  const rows = await store.db.selectFrom('usage').select(['trace_id', 'cost', 'status']).where('person_id', '=', personId).execute();
  const count = new Map<string, number>();
  for (const row of rows) count.set(row.trace_id, (count.get(row.trace_id) ?? 0) + 1);
  for (const traceId of complete) expect(count.get(traceId), traceId).toBe(1);
  for (const [traceId, n] of count) expect(n, traceId).toBe(1);
  const wallet = await store.db.selectFrom('wallets').select(['amount', 'held']).where('id', '=', personId).executeTakeFirstOrThrow();
  expect(wallet.held).toBe(0);
  expect(wallet.amount).toBe(BALANCE - rows.reduce((sum, r) => sum + r.cost, 0));
  return rows.length;
}

describe('SQLite locked by another connection when requests settle', () => {
  it('serves them, spools their settlements, says so, and bills each exactly once when the lock goes', async () => {
    const dir: TempDir = await makeTempDir();
    cleanups.push(dir.remove);
    const spool = join(dir.path, 'settlement-spool.jsonl');
    const provider = new GatedProvider(40);
    const server = await start({ DATA_DIR: dir.path }, provider);
    let closed = false;
    cleanups.push(async () => {
      if (!closed) await server.close();
    });
    const caller = await fundedCredential(server.store, 'lock@example.com', { balance: BALANCE, rps: 10_000, concurrency: 10_000 });
    // Each attempt on the locked file waits this long (synchronously, in better-sqlite3) before SQLITE_BUSY.
    await sql`pragma busy_timeout = 20`.execute(server.store.db);

    const N = 10;
    // Admitted (held) and waiting at the provider's gate...
    const replies = Array.from({ length: N }, (_, i) => chat(server.url, caller.token, i % 2 === 0));
    await until(() => provider.calls === N, 'every request admitted');
    // ...when another connection takes the write lock, and the replies finish.
    const locker = new SqliteDatabase(join(dir.path, 'moongate.db'));
    locker.pragma('busy_timeout = 5000');
    locker.exec('begin exclusive');
    provider.open();
    const served = await Promise.all(replies);
    expect(served.every((r) => r.complete)).toBe(true);

    // Nothing is lost meanwhile: each was on disk before its response went, in the journal (a
    // batch of up to four, let go before its commit) or the spool (a larger one, committed
    // first: spooled when that failed)...
    const onDisk = async (path: string): Promise<string[]> =>
      (await readFile(path, 'utf8').catch(() => ''))
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => (JSON.parse(line) as { usage: { trace_id: string } }).usage.trace_id);
    expect(new Set([...(await onDisk(`${spool}.journal`)), ...(await onDisk(spool))])).toEqual(new Set(served.map((r) => r.traceId)));
    // ...and all of them spooled (fsync'd) once their commit failed, visible in /metrics and
    // /readyz (every request but a chat completion waits for a batch let go before its commit).
    expect(await metric(server.url, 'moongate_settlements_pending')).toBe(N);
    expect((await readFile(spool, 'utf8')).trim().split('\n')).toHaveLength(N);
    expect(await metric(server.url, 'moongate_settlement_failures_total')).toBeGreaterThan(0);
    const notReady = await fetch(`${server.url}/readyz`);
    expect(notReady.status).toBe(500);
    expect(((await notReady.json()) as { error: { message: string } }).error.message).toBe(`not ready: ${N} settlements waiting for the store`);

    locker.exec('commit');
    locker.close();
    await until(async () => (await fetch(`${server.url}/readyz`)).status === 200, 'the settlements to land');
    expect(await metric(server.url, 'moongate_settlements_pending')).toBe(0);
    expect(await expectBilledOnce(server.store, caller.personId, served.map((r) => r.traceId))).toBe(N);
    const costs = await server.store.db.selectFrom('usage').select('cost').execute();
    expect(costs.every((r) => r.cost > 0)).toBe(true);
    expect(await readFile(spool, 'utf8')).toBe('');
    closed = true;
    await server.close();
  }, 60_000);

  it('replays the spool of a server stopped while locked, before listening, and a second replay bills nothing twice', async () => {
    const dir: TempDir = await makeTempDir();
    cleanups.push(dir.remove);
    const spool = join(dir.path, 'settlement-spool.jsonl');
    const provider = new GatedProvider(40);
    const first = await start({ DATA_DIR: dir.path }, provider);
    const caller = await fundedCredential(first.store, 'restart@example.com', { balance: BALANCE, rps: 10_000, concurrency: 10_000 });
    await sql`pragma busy_timeout = 20`.execute(first.store.db);
    const N = 6;
    const replies = Array.from({ length: N }, (_, i) => chat(first.url, caller.token, i % 2 === 1));
    await until(() => provider.calls === N, 'every request admitted');
    const locker = new SqliteDatabase(join(dir.path, 'moongate.db'));
    locker.exec('begin exclusive');
    provider.open();
    const served = await Promise.all(replies);
    expect(served.every((r) => r.complete)).toBe(true);
    // Stopped while the store still refuses: the settlements stay in the spool.
    await first.close();
    const spooled = await readFile(spool, 'utf8');
    expect(spooled.trim().split('\n')).toHaveLength(N);
    locker.exec('commit');
    locker.close();

    const second = await start({ DATA_DIR: dir.path });
    try {
      // Replayed during start-up: billed before the first request could arrive.
      expect(await expectBilledOnce(second.store, caller.personId, served.map((r) => r.traceId))).toBe(N);
      expect(await readFile(spool, 'utf8')).toBe('');
    } finally {
      await second.close();
    }
    // The same spool again (a crash right after replaying, before emptying it): nothing moves.
    await writeFile(spool, spooled);
    const third = await start({ DATA_DIR: dir.path });
    try {
      expect(await expectBilledOnce(third.store, caller.personId, served.map((r) => r.traceId))).toBe(N);
      expect(await readFile(spool, 'utf8')).toBe('');
    } finally {
      await third.close();
    }
  }, 60_000);
});

/** A TCP proxy to PostgreSQL that can cut every connection and refuse new ones, then let them through again. */
class CuttingProxy {
  private cut = false;
  private readonly pairs = new Set<[Socket, Socket]>();
  private constructor(private readonly server: Server) {}

  static async start(target: { host: string; port: number }): Promise<CuttingProxy> {
    const server = createServer();
    const proxy = new CuttingProxy(server);
    server.on('connection', (client: Socket) => {
      if (proxy.cut) {
        client.destroy();
        return;
      }
      const upstream = connect(target.port, target.host);
      const pair: [Socket, Socket] = [client, upstream];
      proxy.pairs.add(pair);
      const end = (): void => {
        proxy.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  /** Every open connection is reset, and new ones are refused until restore(). */
  cutAll(): void {
    this.cut = true;
    for (const [client, upstream] of this.pairs) {
      client.resetAndDestroy();
      upstream.destroy();
    }
    this.pairs.clear();
  }

  restore(): void {
    this.cut = false;
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describeWithPostgres('PostgreSQL cut off under load', (schema) => {
  it('every completed response is billed exactly once after recovery, no hold remains, wallets equal the usage log', async () => {
    const target = new URL(TEST_DATABASE_URL);
    const proxy = await CuttingProxy.start({ host: target.hostname, port: Number(target.port || 5432) });
    cleanups.push(() => proxy.close());
    const dir = await makeTempDir();
    cleanups.push(dir.remove);
    const viaProxy = new URL(schema.url);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    const server = await start({ DATA_DIR: dir.path, DATABASE_URL: viaProxy.toString() });
    let closed = false;
    cleanups.push(async () => {
      if (!closed) await server.close();
    });
    const caller = await fundedCredential(server.store, 'cut@example.com', { balance: BALANCE, rps: 100_000, concurrency: 100_000 });

    const replies: Reply[] = [];
    let refused = 0;
    let stop = false;
    const worker = async (n: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        const reply = await chat(server.url, caller.token, (n + i) % 2 === 0).catch(() => ({ traceId: '', complete: false }));
        replies.push(reply);
        if (!reply.complete) refused++;
      }
    };
    const workers = Array.from({ length: 8 }, (_, n) => worker(n));
    const completed = (): number => replies.filter((r) => r.complete).length;

    await until(() => completed() >= 40, 'load before the cut');
    proxy.cutAll();
    // Cut while requests were finishing: some settlements could not be written; new
    // requests cannot be held, so they are refused meanwhile.
    await until(async () => (await metric(server.url, 'moongate_settlements_pending')) > 0, 'a deferred settlement');
    const refusedAtCut = refused;
    await until(() => refused >= refusedAtCut + 20, 'requests refused during the cut');
    const notReady = await fetch(`${server.url}/readyz`);
    expect(notReady.status).toBe(500);
    const completedDuringCut = completed();

    proxy.restore();
    await until(() => completed() >= completedDuringCut + 40, 'load after the recovery');
    stop = true;
    await Promise.all(workers);
    await until(async () => (await fetch(`${server.url}/readyz`)).status === 200, 'every settlement landed', 60_000);

    const complete = replies.filter((r) => r.complete).map((r) => r.traceId);
    const rows = await expectBilledOnce(server.store, caller.personId, complete);
    expect(rows).toBeGreaterThanOrEqual(complete.length);
    const holds = await server.store.db.selectFrom('holds').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    expect(Number(holds.n)).toBe(0);
    expect(await metric(server.url, 'moongate_settlement_failures_total')).toBeGreaterThan(0);
    console.info(
      `outage (postgres): ${complete.length} complete responses, ${refused} refused or cut, ${rows} usage rows, ${await metric(server.url, 'moongate_settlement_failures_total')} failed settlement attempts`,
    );
    closed = true;
    await server.close();
  }, 120_000);
});
