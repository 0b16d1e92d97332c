/**
 * A replica killed with SIGKILL while it holds concurrency places and quota holds (issue 17):
 * its places come back once its leases run out on Redis's clock (REDIS_LEASE_MS, short
 * here), what it answered completely is billed once, and after it restarts no hold is left
 * (its instance lease, MOONGATE_INSTANCE_LEASE_MS, runs out and a replica releases them).
 *
 * Time is never measured here: the test reads the leases' expiries and Redis's TIME, and
 * waits by polling with a bounded count.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/open-store.js';
import { fundedCredential, type FundedCredential } from '../helpers/funded-credential.js';
import { describeWithPostgres } from '../helpers/postgres.js';
import { TEST_REDIS_URL, redisAvailable, useRedisPrefix } from '../helpers/redis.js';
import { GatedUpstream, startReplicas, type Replicas } from '../helpers/replicas.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const prefix = useRedisPrefix();
const LEASE_MS = 2_000;
const BALANCE = 1_000_000_000;
const SLOTS = 3;
const hello = JSON.stringify({ model: 'kimi-k2-thinking', messages: [{ role: 'user', content: 'What is 2 + 2?' }], max_tokens: 50 });

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describeWithPostgres('a replica killed with SIGKILL', (schema) => {
  let upstream: GatedUpstream;
  let replicas: Replicas;
  let store: Store;
  let redis: Redis;
  let caller: FundedCredential;
  let removeDir: () => Promise<void>;

  beforeAll(async () => {
    if (!redisAvailable) return;
    const dir = await makeTempDir();
    removeDir = dir.remove;
    upstream = await GatedUpstream.start();
    replicas = await startReplicas(2, {
      databaseUrl: schema.url,
      redisUrl: TEST_REDIS_URL,
      redisKeyPrefix: prefix,
      upstream,
      env: { REDIS_LEASE_MS: String(LEASE_MS), MOONGATE_INSTANCE_LEASE_MS: '3000' },
    });
    store = await openStore({ dataDir: dir.path, databaseUrl: schema.url });
    redis = new Redis(TEST_REDIS_URL);
    caller = await fundedCredential(store, 'killed@example.com', { balance: BALANCE, rps: 1_000, concurrency: SLOTS });
  }, 60_000);
  afterAll(async () => {
    await replicas?.stop();
    await upstream?.close();
    await store?.close();
    redis?.disconnect();
    await removeDir?.();
  });

  const send = (url: string): Promise<Response> =>
    fetch(`${url}/kimi/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${caller.token}` },
      body: hello,
    });

  /** Redis's clock, in ms: the clock the leases are written in. */
  const redisNow = async (): Promise<number> => {
    const [seconds, micros] = await redis.time();
    return Number(seconds) * 1_000 + Number(micros) / 1_000;
  };

  async function leaseExpiries(): Promise<number[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*:leases`, 'COUNT', 1_000);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
    // One lease per request, in each of its lease sets (the credential's and its person's).
    const expiries = new Map<string, number>();
    for (const key of keys) {
      const flat = await redis.zrange(key, 0, -1, 'WITHSCORES');
      for (let i = 1; i < flat.length; i += 2) expiries.set(flat[i - 1] ?? '', Math.max(expiries.get(flat[i - 1] ?? '') ?? 0, Number(flat[i])));
    }
    return [...expiries.values()];
  }

  it.skipIf(!redisAvailable)('its places come back within the lease time, its complete answers are billed once, and no hold is left after it restarts', async () => {
    const [, survivorUrl = ''] = replicas.urls;
    const victim = replicas.children[0];
    if (victim === undefined) throw new Error('no replica 0');

    // The victim answers some requests completely.
    upstream.gated = false;
    const complete: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await send(victim.url);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      complete.push(res.headers.get('x-trace-id') ?? '');
    }

    // Then takes every place of the credential with requests the upstream holds.
    upstream.gated = true;
    const before = upstream.arrivals;
    const cut = Array.from({ length: SLOTS }, () => send(victim.url).then((res) => res.arrayBuffer()).catch(() => 'cut'));
    while (upstream.arrivals - before < SLOTS) await upstream.nextArrival();
    const holds = await store.db.selectFrom('holds').select(['trace_id', 'instance_id']).execute();
    expect(holds).toHaveLength(SLOTS);

    const atKill = await redisNow();
    const expiries = await leaseExpiries();
    expect(expiries).toHaveLength(SLOTS);
    // Each place is due back within one lease time of the kill (renewed at most LEASE_MS before it).
    for (const expiry of expiries) expect(expiry).toBeLessThanOrEqual(atKill + LEASE_MS);
    victim.child.kill('SIGKILL');
    expect(await victim.exited).toBe('SIGKILL');
    expect(await Promise.all(cut)).toEqual(Array(SLOTS).fill('cut'));

    // While the dead replica's leases run, the survivor refuses: the places are still taken.
    upstream.gated = false;
    const early = await send(survivorUrl);
    await early.arrayBuffer();
    if ((await redisNow()) < Math.min(...expiries)) expect(early.status).toBe(429);

    // Once Redis's clock is past the last lease, every place is back, on the survivor.
    const due = Math.max(...expiries);
    for (let i = 0; i < 200 && (await redisNow()) < due; i++) await pause(50);
    expect(await redisNow()).toBeGreaterThanOrEqual(due);
    const back = await Promise.all(Array.from({ length: SLOTS }, () => send(survivorUrl)));
    expect(back.map((r) => r.status)).toEqual(Array(SLOTS).fill(200));
    for (const res of back) {
      await res.arrayBuffer();
      complete.push(res.headers.get('x-trace-id') ?? '');
    }
    if (early.status === 200) complete.push(early.headers.get('x-trace-id') ?? '');

    // The victim restarts (same environment and data directory) and serves again.
    const again = await replicas.restart(0);
    const after = await send(again.url);
    expect(after.status).toBe(200);
    await after.arrayBuffer();
    complete.push(after.headers.get('x-trace-id') ?? '');

    // No hold of the dead instance is left: its instance lease ran out, and a replica (the
    // survivor's sweep, or the restarted one's start-up) gave them back, exactly once.
    const dead = new Set(holds.map((h) => h.instance_id));
    for (let i = 0; i < 200; i++) {
      const left = await store.db.selectFrom('holds').select('instance_id').execute();
      if (!left.some((h) => dead.has(h.instance_id))) break;
      await pause(50);
    }
    expect(await store.db.selectFrom('holds').select('trace_id').execute()).toEqual([]);

    // Money: every complete answer billed once, nothing for the cut ones, nothing held.
    const rows = await store.db.selectFrom('usage').select(['trace_id', 'cost']).where('person_id', '=', caller.personId).execute();
    const count = new Map<string, number>();
    for (const row of rows) count.set(row.trace_id, (count.get(row.trace_id) ?? 0) + 1);
    for (const traceId of complete) expect(count.get(traceId), traceId).toBe(1);
    for (const hold of holds) expect(count.get(hold.trace_id) ?? 0, hold.trace_id).toBe(0);
    expect(rows).toHaveLength(complete.length);
    const wallet = await store.db.selectFrom('wallets').select(['amount', 'held']).where('id', '=', caller.personId).executeTakeFirstOrThrow();
    expect(wallet.held).toBe(0);
    expect(wallet.amount).toBe(BALANCE - rows.reduce((sum, r) => sum + r.cost, 0));
    console.info(`killed: ${SLOTS} places due back ${Math.round(due - atKill)} ms after the kill (lease ${LEASE_MS} ms); the survivor answered ${early.status} before that; ${rows.length} answers billed once`);
  });
});
