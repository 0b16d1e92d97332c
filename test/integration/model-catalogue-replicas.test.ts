/**
 * A catalogue change made by the CLI reaches every replica without a restart (issue 18):
 * two `moongate serve` processes on one PostgreSQL schema and one Redis; the CLI (another
 * process, which speaks on no bus) adds a model, then retires it with a message. Each
 * replica lists and serves the new model, then answers the message. A /v1/models read
 * refreshes the catalogue first (docs/models.md), so the test needs no wait on the clock.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runMoongate } from '../helpers/moongate-cli.js';
import { describeWithPostgres } from '../helpers/postgres.js';
import { TEST_REDIS_URL, redisAvailable, useRedisPrefix } from '../helpers/redis.js';
import { GatedUpstream, startReplicas, type Replicas } from '../helpers/replicas.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { mintToken } from '../helpers/mint-token.js';
import { addBalance } from '../../src/billing/wallet-store.js';
import { PersonStore } from '../../src/accounts/person-store.js';

const prefix = useRedisPrefix();

describeWithPostgres('a catalogue change on two replicas', (schema) => {
  let upstream: GatedUpstream;
  let replicas: Replicas;
  let store: Store;
  let token: string;
  let removeDir: () => Promise<void>;
  let dataDir: string;

  beforeAll(async () => {
    if (!redisAvailable) return;
    const dir = await makeTempDir();
    removeDir = dir.remove;
    dataDir = dir.path;
    upstream = await GatedUpstream.start();
    upstream.gated = false;
    replicas = await startReplicas(2, { databaseUrl: schema.url, redisUrl: TEST_REDIS_URL, redisKeyPrefix: prefix, upstream });
    store = await openStore({ dataDir: dir.path, databaseUrl: schema.url });
    token = await mintToken(store, 'catalogue@example.com');
    const person = await new PersonStore(store.db).ensurePerson('catalogue@example.com');
    await addBalance(store.db, person.id, 10_000_000);
  }, 60_000);
  afterAll(async () => {
    await replicas?.stop();
    await upstream?.close();
    await store?.close();
    await removeDir?.();
  });

  const cli = (args: string[]) => runMoongate(['model', ...args], { DATABASE_URL: schema.url, DATA_DIR: dataDir });
  const listedOn = async (url: string): Promise<string[]> =>
    ((await (await fetch(`${url}/v1/models`)).json()) as { data: Array<{ id: string }> }).data.map((m) => m.id);
  const chatOn = (url: string, model: string): Promise<Response> =>
    fetch(`${url}/kimi/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 20 }),
    });

  it.skipIf(!redisAvailable)('a model the CLI adds is listed and served by both, and its retirement message answered by both', async () => {
    const added = await cli(['add', 'replica-model', '--context', '131072', '--thinking', 'always', '--input', '1.00', '--output', '2.00']);
    expect(added.code, added.stderr).toBe(0);
    for (const url of replicas.urls) {
      expect(await listedOn(url)).toContain('replica-model');
      const res = await chatOn(url, 'replica-model');
      expect(res.status, url).toBe(200);
      expect(((await res.json()) as { model: string }).model).toBe('replica-model');
    }
    const retired = await cli(['retire', 'replica-model', '--message', 'replica-model is gone; use kimi-k2.5']);
    expect(retired.code, retired.stderr).toBe(0);
    for (const url of replicas.urls) {
      expect(await listedOn(url)).not.toContain('replica-model');
      const res = await chatOn(url, 'replica-model');
      expect(res.status, url).toBe(404);
      expect(((await res.json()) as { error: { message: string } }).error.message).toBe('replica-model is gone; use kimi-k2.5');
    }
  });
});
