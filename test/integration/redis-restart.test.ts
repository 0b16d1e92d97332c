/**
 * Redis killed and started again (empty) under load, with two replicas on PostgreSQL
 * (issue 17): the replicas keep answering (degraded, and /readyz says so), no request is
 * stuck, nothing is overspent, no hold is left, wallets equal the usage log, and once
 * Redis is back the limits are global again without restarting moongate.
 *
 * The Redis here is the test's own `redis-server` (helpers/redis.ts, OwnRedis): the shared
 * one is never restarted. Phases are driven by counts of answers and by /readyz, never by
 * the clock.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CredentialStore } from '../../src/accounts/credential-store.js';
import { PersonStore } from '../../src/accounts/person-store.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { KIMI_SERVICE } from '../../src/store/seed-services.js';
import { fundedCredential } from '../helpers/funded-credential.js';
import { describeWithPostgres } from '../helpers/postgres.js';
import { OwnRedis, ownRedisAvailable } from '../helpers/redis.js';
import { GatedUpstream, startReplicas, type Replicas } from '../helpers/replicas.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const hello = JSON.stringify({ model: 'kimi-k2-thinking', messages: [{ role: 'user', content: 'What is 2 + 2?' }], max_tokens: 50 });
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describeWithPostgres('Redis restarted under load', (schema) => {
  let redis: OwnRedis | undefined;
  let upstream: GatedUpstream;
  let replicas: Replicas;
  let store: Store;
  let removeDir: () => Promise<void>;

  beforeAll(async () => {
    redis = await OwnRedis.start();
    if (redis === undefined) return;
    const dir = await makeTempDir();
    removeDir = dir.remove;
    upstream = await GatedUpstream.start();
    upstream.gated = false;
    replicas = await startReplicas(2, { databaseUrl: schema.url, redisUrl: redis.url, redisKeyPrefix: 'restart:', upstream });
    store = await openStore({ dataDir: dir.path, databaseUrl: schema.url });
  }, 60_000);
  afterAll(async () => {
    await replicas?.stop();
    await upstream?.close();
    await store?.close();
    await redis?.kill();
    await removeDir?.();
  });

  const send = (url: string, token: string): Promise<Response> =>
    fetch(`${url}/kimi/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: hello,
    });

  async function degraded(url: string): Promise<boolean> {
    const res = await fetch(`${url}/readyz`);
    const body = (await res.json()) as { status?: string; degraded?: string[] };
    expect(res.status).toBe(200);
    return (body.degraded ?? []).some((note) => note.includes('Redis'));
  }

  /** Polls both replicas' /readyz (bounded) until each says `want`. */
  async function untilDegraded(want: boolean): Promise<void> {
    for (let i = 0; i < 300; i++) {
      const states = await Promise.all(replicas.urls.map((url) => degraded(url)));
      if (states.every((state) => state === want)) return;
      await pause(50);
    }
    throw new Error(`the replicas did not become ${want ? 'degraded' : 'global'} again`);
  }

  it.skipIf(!ownRedisAvailable)('no overspend, no request stuck, and the limits come back by themselves', async () => {
    const own = redis;
    if (own === undefined) throw new Error('no Redis of our own');
    // Enough money for 25 answers; the load asks for more, so it runs out mid-way.
    const probe = await fundedCredential(store, 'probe@example.com', { balance: 1_000_000_000, rps: 1_000, concurrency: 100 });
    const priced = await send(replicas.urls[0] ?? '', probe.token);
    expect(priced.status).toBe(200);
    await priced.arrayBuffer();
    const [worst] = await store.db.selectFrom('usage').select('cost').where('person_id', '=', probe.personId).execute();
    const balance = (worst?.cost ?? 1) * 25;
    const caller = await fundedCredential(store, 'load@example.com', { balance, rps: 1_000, concurrency: 4 });

    const statuses: number[] = [];
    const codes = new Set<string>();
    let stop = false;
    let answered = 0;
    const waiters: Array<{ at: number; resolve: () => void }> = [];
    const answers = (more: number): Promise<void> =>
      new Promise((resolve) => {
        waiters.push({ at: answered + more, resolve });
      });
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        const res = await send(replicas.urls[(w + i) % 2] ?? '', caller.token);
        statuses.push(res.status);
        if (res.status !== 200) codes.add(((await res.json()) as { error: { code: string } }).error.code);
        else await res.arrayBuffer();
        answered += 1;
        for (const waiter of waiters.filter((x) => answered >= x.at)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      }
    };
    const load = Array.from({ length: 6 }, (_, w) => worker(w));

    await answers(30);
    await own.kill();
    await untilDegraded(true);
    await answers(30);
    await own.restart();
    await untilDegraded(false);
    await answers(30);
    stop = true;
    // No request stuck: every worker's last request was answered.
    await Promise.all(load);

    // Never a 5xx: refused requests are limits or money.
    expect(statuses.every((s) => s === 200 || s === 403 || s === 429), statuses.join(',')).toBe(true);
    for (const code of codes) expect(['too_many_requests', 'used_up']).toContain(code);
    expect(codes.has('used_up')).toBe(true);

    // Money: nothing held, never below zero, and the wallet is the usage log.
    const rows = await store.db.selectFrom('usage').select(['cost']).where('person_id', '=', caller.personId).execute();
    const wallet = await store.db.selectFrom('wallets').select(['amount', 'held']).where('id', '=', caller.personId).executeTakeFirstOrThrow();
    expect(rows.length).toBe(statuses.filter((s) => s === 200).length);
    expect(wallet.held).toBe(0);
    expect(wallet.amount).toBeGreaterThanOrEqual(0);
    expect(wallet.amount).toBe(balance - rows.reduce((sum, r) => sum + r.cost, 0));
    expect(await store.db.selectFrom('holds').select('trace_id').execute()).toEqual([]);
    const tally = (s: number): number => statuses.filter((x) => x === s).length;
    console.info(`Redis restarted under load: ${statuses.length} answers (${tally(200)} × 200, ${tally(429)} × 429, ${tally(403)} × 403 used_up), wallet ${wallet.amount} µ left of ${balance}`);

    // The limits are global again: concurrency 3 over both replicas admits 3, where each
    // replica's local share (ceil(3 / 2) = 2) would have admitted 4.
    const person = await new PersonStore(store.db).ensurePerson('three@example.com');
    const { token } = await new CredentialStore(store.db).issueCredential({ personId: person.id, serviceSlug: KIMI_SERVICE.slug, rpsLimit: 1_000, concurrencyLimit: 3 });
    upstream.gated = true;
    const before = upstream.arrivals;
    let refused = 0;
    const sent = Array.from({ length: 10 }, (_, i) => send(replicas.urls[i % 2] ?? '', token));
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (upstream.arrivals - before + refused >= 10) resolve();
        else void upstream.nextArrival().then(check);
      };
      check();
      sent.forEach((answer) =>
        void answer.then((res) => {
          if (res.status === 429) {
            refused += 1;
            check();
          }
        }),
      );
    });
    expect(upstream.arrivals - before).toBe(3);
    upstream.release();
    const all = await Promise.all(sent);
    await Promise.all(all.map((r) => r.arrayBuffer()));
    expect(all.filter((r) => r.status === 200)).toHaveLength(3);
  });
});
