/**
 * Channels kept in the database, on SQLite and PostgreSQL: stored without their key,
 * read back with the key from the environment, enabled and disabled; and a server that
 * finds the same name in the file and the database refuses to start.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ChannelStore } from '../../src/channels/channel-store.js';
import { loadConfig } from '../../src/config.js';
import { startServer } from '../../src/server.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { describeEachDialect } from '../helpers/postgres.js';

const KEY = 'sk-stored-channel-secret-7';

describeEachDialect((target) => {
  let store: Store;
  beforeAll(async () => {
    store = await openStore(target.location());
  });
  afterAll(async () => {
    await store?.close();
  });

  it('stores the variable name, never the key, and resolves it from the environment', async () => {
    const channels = new ChannelStore(store.db);
    const added = await channels.addChannel({
      name: 'vllm', kind: 'openai-compatible', baseUrl: 'http://vllm:8000/v1', apiKeyEnv: 'VLLM_KEY',
      models: { 'kimi-k2.5': 'moonshotai/Kimi-K2.5' }, priority: 1, weight: 2, maxConcurrency: 8, timeouts: { firstTokenMs: 5000 },
    });
    expect(added).toMatchObject({ name: 'vllm', apiKeyEnv: 'VLLM_KEY', status: 'active', priority: 1, weight: 2, maxConcurrency: 8 });
    expect(added.id).toMatch(/^chan_[0-9a-f]{24}$/);
    const rows = await store.db.selectFrom('channels').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(KEY);
    const [spec] = await channels.activeSpecs({ VLLM_KEY: KEY });
    expect(spec).toMatchObject({
      name: 'vllm', kind: 'openai-compatible', apiKey: KEY, source: 'database', models: { 'kimi-k2.5': 'moonshotai/Kimi-K2.5' },
      timeouts: { firstTokenMs: 5000, connectMs: 10_000 },
    });
    await expect(channels.activeSpecs({})).rejects.toThrow('channel vllm (database): apiKey: the environment variable VLLM_KEY is not set');
  });

  it('keeps the fields a channel passes through (migration 0013), and refuses one moongate builds itself', async () => {
    const channels = new ChannelStore(store.db);
    const added = await channels.addChannel({ name: 'sglang', kind: 'openai-compatible', baseUrl: 'http://sglang:30000/v1', passthrough: ['chat_template_kwargs'] });
    expect(added.passthrough).toEqual(['chat_template_kwargs']);
    const spec = await channels.activeSpec('sglang', {});
    expect(spec?.passthrough).toEqual(['chat_template_kwargs']);
    expect((await channels.addChannel({ name: 'plain', kind: 'openai-compatible', baseUrl: 'http://plain:8000/v1' })).passthrough).toEqual([]);
    expect((await channels.activeSpec('plain', {}))?.passthrough).toEqual([]);
    await expect(channels.addChannel({ name: 'bad', kind: 'openai-compatible', baseUrl: 'http://bad:8000/v1', passthrough: ['messages'] })).rejects.toThrow(
      'passthrough.0: is a field moongate builds itself',
    );
    // The store is shared by the tests below, which count the active channels.
    await channels.setStatus('sglang', 'disabled');
    await channels.setStatus('plain', 'disabled');
  });

  it('a Moonshot channel reads MOONSHOT_API_KEY unless told otherwise', async () => {
    const channels = new ChannelStore(store.db);
    expect((await channels.addChannel({ name: 'moonshot', kind: 'moonshot' })).apiKeyEnv).toBe('MOONSHOT_API_KEY');
  });

  it('disables and enables; a disabled channel is not served', async () => {
    const channels = new ChannelStore(store.db);
    await channels.setStatus('vllm', 'disabled');
    await channels.setStatus('moonshot', 'disabled');
    expect(await channels.activeSpecs({})).toEqual([]);
    await channels.setStatus('vllm', 'active');
    expect((await channels.activeSpecs({ VLLM_KEY: KEY })).map((c) => c.name)).toEqual(['vllm']);
    await expect(channels.setStatus('nope', 'active')).rejects.toMatchObject({ code: 'bad_request' });
    await expect(channels.addChannel({ name: 'vllm', kind: 'simulator' })).rejects.toThrow('already exists');
  });

  it('the server refuses a name used by both the file and the database', async () => {
    const file = join(target.location().dataDir, 'clash.json');
    await writeFile(file, JSON.stringify({ channels: [{ name: 'vllm', kind: 'simulator' }] }));
    const location = target.location();
    const config = loadConfig({
      DATA_DIR: location.dataDir, PORT: '0', MOONGATE_CONFIG: file,
      ...(location.databaseUrl === undefined ? {} : { DATABASE_URL: location.databaseUrl }),
    });
    await expect(startServer(config, { logger: false, env: { VLLM_KEY: KEY } })).rejects.toThrow(
      'channel vllm is declared both in the config file and in the database',
    );
  });
});
