/**
 * Two replicas (child processes, `moongate serve`) on one PostgreSQL schema and one Redis
 * are one deployment: a credential's limits hold across them (issue 17). Without Redis each
 * replica counted alone, and every limit was twice what the operator set.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql } from 'kysely';
import { CredentialStore } from '../../src/accounts/credential-store.js';
import { PersonStore } from '../../src/accounts/person-store.js';
import { migrationProvider } from '../../src/store/migrations/index.js';
import { KIMI_SERVICE } from '../../src/store/seed-services.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { describeWithPostgres } from '../helpers/postgres.js';
import { TEST_REDIS_URL, redisAvailable, useRedisPrefix } from '../helpers/redis.js';
import { runMoongate } from '../helpers/moongate-cli.js';
import { GatedUpstream, startReplicas, type Replicas } from '../helpers/replicas.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const prefix = useRedisPrefix();
const hello = JSON.stringify({ model: 'kimi-k2-thinking', messages: [{ role: 'user', content: 'What is 2 + 2?' }], max_tokens: 50 });

describeWithPostgres('two replicas with REDIS_URL', (schema) => {
  let upstream: GatedUpstream;
  let replicas: Replicas;
  let store: Store;
  let removeDir: () => Promise<void>;
  let dataDir: string;

  beforeAll(async () => {
    // A missing Redis skips locally and fails under CI=true (helpers/redis.ts).
    if (!redisAvailable) return;
    const dir = await makeTempDir();
    removeDir = dir.remove;
    dataDir = dir.path;
    upstream = await GatedUpstream.start();
    // Both start at the same moment on an empty schema: the migrations run once (an advisory lock).
    replicas = await startReplicas(2, { databaseUrl: schema.url, redisUrl: TEST_REDIS_URL, redisKeyPrefix: prefix, upstream });
    store = await openStore({ dataDir: dir.path, databaseUrl: schema.url });
  }, 60_000);
  afterAll(async () => {
    await replicas?.stop();
    await upstream?.close();
    await store?.close();
    await removeDir?.();
  });

  it.skipIf(!redisAvailable)('replicas started at the same moment on an empty schema ran each migration once', async () => {
    const expected = Object.keys(await migrationProvider.getMigrations()).sort();
    const { rows } = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(store.db);
    expect(rows.map((row) => row.name)).toEqual(expected);
    // And the lock table Kysely serialises runners with holds its one row.
    const locks = await sql<{ n: string }>`select count(*) as n from kysely_migration_lock`.execute(store.db);
    expect(Number(locks.rows[0]?.n)).toBe(1);
  });

  async function credential(email: string, limits: { rpsLimit: number; concurrencyLimit: number }): Promise<string> {
    const person = await new PersonStore(store.db).ensurePerson(email);
    const { token } = await new CredentialStore(store.db).issueCredential({ personId: person.id, serviceSlug: KIMI_SERVICE.slug, ...limits });
    return token;
  }

  const send = (i: number, token: string): Promise<Response> =>
    fetch(`${replicas.urls[i % replicas.urls.length]}/kimi/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: hello,
    });

  it.skipIf(!redisAvailable)('a credential with concurrency 5 gets exactly 5 of 20 simultaneous slow requests over both replicas', async () => {
    const token = await credential('five@example.com', { rpsLimit: 1_000, concurrencyLimit: 5 });
    upstream.gated = true;
    const before = upstream.arrivals;
    let refused = 0;
    const answers = Array.from({ length: 20 }, (_, i) => send(i, token));
    // Every request either reaches the (gated) upstream or is refused: wait until all 20 did one.
    const settled = new Promise<void>((resolve) => {
      const check = (): void => {
        if (upstream.arrivals - before + refused >= 20) resolve();
        else void upstream.nextArrival().then(check);
      };
      check();
      answers.forEach((answer) =>
        void answer.then((res) => {
          if (res.status === 429) {
            refused += 1;
            check();
          }
        }),
      );
    });
    await settled;
    expect(upstream.arrivals - before).toBe(5);
    expect(refused).toBe(15);
    upstream.release();
    const all = await Promise.all(answers);
    expect(all.filter((r) => r.status === 200)).toHaveLength(5);
    for (const res of all.filter((r) => r.status === 429)) {
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      const body = (await res.json()) as { error: { code: string } };
      expect(body.error.code).toBe('too_many_requests');
    }
    await Promise.all(all.filter((r) => r.status === 200).map((r) => r.arrayBuffer()));
  });

  it.skipIf(!redisAvailable)('a credential with rps 10 gets at most 11 of 40 requests sent together over both replicas', async () => {
    const token = await credential('ten@example.com', { rpsLimit: 10, concurrencyLimit: 1_000 });
    upstream.gated = false;
    const all = await Promise.all(Array.from({ length: 40 }, (_, i) => send(i, token)));
    const admitted = all.filter((r) => r.status === 200).length;
    expect(admitted).toBeGreaterThanOrEqual(10);
    expect(admitted).toBeLessThanOrEqual(11);
    expect(all.every((r) => r.status === 200 || r.status === 429)).toBe(true);
    await Promise.all(all.map((r) => r.arrayBuffer()));
  });

  it.skipIf(!redisAvailable)('a credential revoked by the CLI is refused by both at once (the change bus drops their cached entries)', async () => {
    const token = await credential('revoked@example.com', { rpsLimit: 100, concurrencyLimit: 10 });
    upstream.gated = false;
    // Both replicas have the credential in their cache (accounts/credential-cache.ts).
    for (const i of [0, 1]) {
      const ok = await send(i, token);
      expect(ok.status).toBe(200);
      await ok.arrayBuffer();
    }
    const person = await new PersonStore(store.db).ensurePerson('revoked@example.com');
    const [issued] = await new CredentialStore(store.db).listCredentials(person.id);
    const run = await runMoongate(['credential', 'revoke', issued?.id ?? ''], {
      DATABASE_URL: schema.url,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      DATA_DIR: dataDir,
    });
    expect(run.code, run.stderr).toBe(0);
    for (const i of [0, 1]) {
      const refused = await send(i, token);
      expect(refused.status).toBe(401);
      await refused.arrayBuffer();
    }
  });
});
