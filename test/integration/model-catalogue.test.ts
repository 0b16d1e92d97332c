/**
 * The model catalogue (issue 18, docs/models.md): the table on both dialects with the
 * seed's seven as its active rows, the changes an operator makes and what they refuse, and a
 * running server that applies a CLI change without a restart: a model added is listed and
 * served, a retired one is served by its replacement or answered with its message, an 'off'
 * or unknown one still gets the seed's error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelCatalogue, type CatalogueTimers } from '../../src/catalogue/model-catalogue.js';
import { ModelStore } from '../../src/catalogue/model-store.js';
import { seedPrices, setPrice } from '../../src/billing/price-store.js';
import { BUILT_IN_MODELS, CURRENT_MOONSHOT_MODELS, KIMI_MODELS, KIMI_MODEL_IDS, MoongateError, TRACE_ID_PATTERN } from '../../src/contract/index.js';
import { LocalChangeBus } from '../../src/limits/change-bus.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { readCatalogueVersion } from '../../src/store/model-rows.js';
import { ensureBuilt, runMoongate } from '../helpers/moongate-cli.js';
import { describeEachDialect } from '../helpers/postgres.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/** Timers a test fires by hand: the catalogue's poll runs when the test says so. */
class HandTimers implements CatalogueTimers {
  callbacks: Array<() => void> = [];
  setInterval(callback: () => void): unknown {
    this.callbacks.push(callback);
    return callback;
  }
  clearInterval(handle: unknown): void {
    this.callbacks = this.callbacks.filter((c) => c !== handle);
  }
  tick(): void {
    for (const callback of this.callbacks) callback();
  }
}

async function refusal(work: Promise<unknown>): Promise<MoongateError> {
  try {
    await work;
  } catch (error) {
    if (error instanceof MoongateError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describeEachDialect((target) => {
  let store: Store;
  beforeAll(async () => {
    store = await openStore(target.location());
    // The server and the CLI seed the prices at start, as here.
    await seedPrices(store.db);
  });
  afterAll(async () => {
    await store?.close();
  });

  it('holds the seed\'s seven as its active rows, exactly as the built-in table, then the current Moonshot models, off', async () => {
    const rows = await new ModelStore(store.db).list();
    expect(rows.slice(0, 7)).toEqual(KIMI_MODELS);
    expect(rows.filter((m) => m.state === 'active').map((m) => m.id)).toEqual(KIMI_MODEL_IDS);
    expect(rows.slice(7)).toEqual(CURRENT_MOONSHOT_MODELS);
    expect(rows.slice(7).every((m) => m.state === 'off')).toBe(true);
    // Opening again seeds nothing twice.
    const again = await openStore(target.location());
    await again.close();
    expect(await new ModelStore(store.db).list()).toHaveLength(BUILT_IN_MODELS.length);
  });

  it('changes a row in one transaction that bumps the version, and keeps an operator\'s edit across opens', async () => {
    const models = new ModelStore(store.db);
    const before = await readCatalogueVersion(store.db);
    const changed = await models.update('kimi-k2.6', { state: 'active', maxCompletionTokens: 65_536 });
    expect(changed).toMatchObject({ id: 'kimi-k2.6', state: 'active', maxCompletionTokens: 65_536, thinking: true });
    expect(await readCatalogueVersion(store.db)).toBe(before + 1);
    const reopened = await openStore(target.location());
    expect(await new ModelStore(reopened.db).get('kimi-k2.6')).toEqual(changed);
    await reopened.close();
    await models.update('kimi-k2.6', { state: 'off', maxCompletionTokens: 262_144 });
  });

  it('refuses what does not fit together, with a message that says what to fix, and writes nothing', async () => {
    const models = new ModelStore(store.db);
    const version = await readCatalogueVersion(store.db);
    const base = { ...KIMI_MODELS[1]!, id: 'new-model' };
    expect((await refusal(models.add({ ...base, id: 'bad id!' }))).message).toMatch(/a model id is/);
    expect((await refusal(models.add({ ...base, maxCompletionTokens: base.contextTokens + 1 }))).message).toBe('the largest completion cannot exceed the context');
    expect((await refusal(models.add({ ...base, thinkingMode: 'never', efforts: ['high'] }))).message).toBe('a model that never thinks takes no reasoning efforts');
    expect((await refusal(models.add(base))).message).toBe('new-model has no price: set its prices before it is served');
    expect(await models.get('new-model')).toBeUndefined();
    expect((await refusal(models.add({ ...KIMI_MODELS[1]! }))).message).toMatch(/already in the catalogue/);
    expect((await refusal(models.update('nope', { state: 'active' }))).code).toBe('model_not_found');
    expect((await refusal(models.retire('kimi-k2-0711-preview', { replacement: 'kimi-k3' }))).message).toBe(
      'the replacement kimi-k3 is off: a replacement must be active or hidden',
    );
    expect((await refusal(models.retire('kimi-k2-0711-preview', { replacement: 'kimi-k2-0711-preview' }))).message).toBe('a model cannot be its own replacement');
    expect((await refusal(models.update('kimi-k2.5', { replacement: 'kimi-k2-thinking' }))).message).toBe('only a retired model has a replacement or a message');
    expect(await readCatalogueVersion(store.db)).toBe(version);
  });

  it('adds a model with its price, and will not take away a replacement another model needs', async () => {
    const models = new ModelStore(store.db);
    const added = await models.add({ ...KIMI_MODELS[1]!, id: 'priced-model', displayName: 'Priced' }, (trx) =>
      setPrice(trx, { model: 'priced-model', cachedInput: 1, input: 2, output: 3, cacheWrite: 2 }),
    );
    expect(added.state).toBe('active');
    await models.retire('kimi-k2-0711-preview', { replacement: 'priced-model' });
    expect((await refusal(models.update('priced-model', { state: 'off' }))).message).toBe(
      'priced-model is the replacement of kimi-k2-0711-preview: give those another replacement or a message first',
    );
    const back = await models.update('kimi-k2-0711-preview', { state: 'active' });
    expect(back).toEqual(KIMI_MODELS[6]);
  });

  it('the in-memory catalogue reloads on its poll and on a bus message, and only when the version moved', async () => {
    const timers = new HandTimers();
    const changes = new LocalChangeBus();
    const catalogue = await ModelCatalogue.open(store.db, { changes, timers });
    try {
      expect(catalogue.listed().map((m) => m.id)).toEqual([...KIMI_MODEL_IDS, 'priced-model']);
      const models = new ModelStore(store.db);
      // Another process's change: heard at the next poll.
      await models.update('priced-model', { state: 'hidden' });
      expect(catalogue.find('priced-model')?.state).toBe('active');
      let reloaded = catalogue.nextReload();
      timers.tick();
      await reloaded;
      expect(catalogue.find('priced-model')?.state).toBe('hidden');
      expect(catalogue.listed().map((m) => m.id)).toEqual(KIMI_MODEL_IDS);
      // This process's (or, with Redis, another replica's) announcement: reloaded at once.
      await models.update('priced-model', { state: 'active' });
      reloaded = catalogue.nextReload();
      await changes.publish({ kind: 'model', id: 'priced-model' });
      await reloaded;
      expect(catalogue.find('priced-model')?.state).toBe('active');
    } finally {
      catalogue.close();
    }
    expect(timers.callbacks).toHaveLength(0);
  });
});

describe('a running server and the CLI beside it', () => {
  let server: TestServer;
  const cli = (args: string[]) => runMoongate(['model', ...args], { DATA_DIR: server.dataDir, DATABASE_URL: undefined });

  beforeAll(async () => {
    await ensureBuilt();
    server = await startTestServer({ webRoot: false });
  }, 120_000);
  afterAll(async () => {
    await server?.close();
  });

  async function listed(): Promise<Array<Record<string, unknown>>> {
    const res = await fetch(`${server.url}/v1/models`);
    return ((await res.json()) as { data: Array<Record<string, unknown>> }).data;
  }

  it('lists the seed\'s seven with their capabilities, and refuses an off model as unknown, with the seed\'s message', async () => {
    const data = await listed();
    expect(data.map((m) => m.id)).toEqual(KIMI_MODEL_IDS);
    expect(data.find((m) => m.id === 'kimi-k2.5')).toEqual({
      id: 'kimi-k2.5',
      object: 'model',
      created: expect.any(Number) as number,
      owned_by: 'moonshotai',
      context_length: 262_144,
      thinking: true,
      supports_image_in: false,
      supports_video_in: false,
      supports_reasoning: true,
      think_efforts: [],
    });
    const res = await server.chat({ model: 'kimi-k3', messages: [{ role: 'user', content: 'Hello' }] });
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { code: string; message: string }; trace_id: string };
    expect(body.error.code).toBe('model_not_found');
    expect(body.error.message).toBe(`The model "kimi-k3" does not exist; available models: ${KIMI_MODEL_IDS.join(', ')}`);
    expect(body.trace_id).toMatch(TRACE_ID_PATTERN);
  });

  it('serves a model the CLI switches on, and one it adds, without a restart', async () => {
    const on = await cli(['set', 'kimi-k3', '--state', 'active']);
    expect(on.code, on.stderr).toBe(0);
    const added = await cli([
      'add', 'kimi-k3.1-pro', '--display-name', 'Kimi K3.1 Pro', '--thinking', 'always', '--efforts', 'low,high,max', '--inputs', 'text,image',
      '--context', '1048576', '--max-completion-tokens', '131072', '--input', '3.00', '--cached-input', '0.30', '--output', '15.00', '--json',
    ]);
    expect(added.code, added.stderr).toBe(0);
    expect(JSON.parse(added.stdout)).toMatchObject({ id: 'kimi-k3.1-pro', state: 'active', price: { input: 3_000_000, cachedInput: 300_000, output: 15_000_000 } });
    // Asked for at once: the gateway refreshes before it would answer "unknown model".
    const res = await server.chat({ model: 'kimi-k3.1-pro', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 20 });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { model: string }).model).toBe('kimi-k3.1-pro');
    const data = await listed();
    expect(data.map((m) => m.id)).toEqual([...KIMI_MODEL_IDS, 'kimi-k3', 'kimi-k3.1-pro']);
    expect(data.at(-1)).toMatchObject({ context_length: 1_048_576, thinking: true, supports_image_in: true, supports_video_in: false, supports_reasoning: true, think_efforts: ['low', 'high', 'max'] });
    expect(data.at(-2)).toMatchObject({ supports_image_in: true, supports_video_in: true, think_efforts: ['low', 'high', 'max'] });
  });

  it('serves a retired model by its replacement (the answer keeps the name asked for; usage names the replacement)', async () => {
    const retired = await cli(['retire', 'kimi-k2-0711-preview', '--replacement', 'kimi-k2-instruct-0905']);
    expect(retired.code, retired.stderr).toBe(0);
    await server.server.catalogue.refresh(); // what the 1 s poll does
    expect((await listed()).map((m) => m.id)).not.toContain('kimi-k2-0711-preview');
    const res = await server.chat({ model: 'kimi-k2-0711-preview', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 20 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { id: string; model: string };
    expect(body.model).toBe('kimi-k2-0711-preview');
    const traceId = res.headers.get('x-trace-id') ?? '';
    const usage = await server.server.store.db.selectFrom('usage').select('model').where('trace_id', '=', traceId).executeTakeFirst();
    expect(usage?.model).toBe('kimi-k2-instruct-0905');
  });

  it('answers a model retired with a message with that message, in the envelope, before any money is held', async () => {
    const retired = await cli(['retire', 'kimi-k2-turbo-preview', '--message', 'kimi-k2-turbo-preview was retired on 2026-05-25; use kimi-k3']);
    expect(retired.code, retired.stderr).toBe(0);
    await server.server.catalogue.refresh();
    const res = await server.chat({ model: 'kimi-k2-turbo-preview', messages: [{ role: 'user', content: 'Hello' }] });
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { code: string; message: string }; trace_id: string };
    expect(body.error).toEqual({ code: 'model_not_found', message: 'kimi-k2-turbo-preview was retired on 2026-05-25; use kimi-k3' });
    expect(body.trace_id).toMatch(TRACE_ID_PATTERN);
    const usage = await server.server.store.db.selectFrom('usage').select('trace_id').where('trace_id', '=', body.trace_id).executeTakeFirst();
    expect(usage).toBeUndefined();
  });

  it('refuses bad CLI input with a clear message and a non-zero exit', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['add', 'x-model'], /give the context window/],
      [['add', 'x-model', '--context', '1000', '--thinking', 'sometimes'], /thinking is one of never, always, switchable/],
      [['add', 'x-model', '--context', '1000', '--efforts', 'medium'], /efforts may only name low, high, max \(not medium\)/],
      [['set', 'kimi-k2.5', '--state', 'retired'], /state is one of active, hidden, off/],
      [['retire', 'kimi-k2.5'], /give either --replacement <id> or --message <text>/],
      [['retire', 'kimi-k2.5', '--replacement', 'kimi-k2.6'], /the replacement kimi-k2.6 is off/],
    ];
    // Run at once: each is a process start, slow on a busy machine.
    const runs = await Promise.all(cases.map(([args]) => cli(args)));
    runs.forEach((run, i) => {
      const [args, message] = cases[i]!;
      expect(run.code, args.join(' ')).not.toBe(0);
      expect(run.stderr, args.join(' ')).toMatch(message);
    });
  }, 90_000);
});
