/**
 * The real `moongate channel` commands as an operator runs them: add (validated, key by
 * variable name only), list (file and database channels, never a key), disable/enable,
 * and test (one tiny request through the channel, latency and answer printed).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChannelStore } from '../../src/channels/channel-store.js';
import { openStore } from '../../src/store/open-store.js';
import { ensureBuilt, runMoongate } from '../helpers/moongate-cli.js';
import { FaultUpstream } from '../helpers/fault-upstream.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

const KEY = 'sk-cli-channel-secret-42';
let dir: TempDir;
let upstream: FaultUpstream;
let env: Record<string, string>;

beforeAll(async () => {
  await ensureBuilt();
  dir = await makeTempDir();
  upstream = await FaultUpstream.start();
  const file = join(dir.path, 'moongate.config.yaml');
  await writeFile(file, 'channels:\n  - name: from-file\n    kind: simulator\n    models: ["kimi-k2-turbo-preview"]\n    simulator: { ttftMs: 0, tokensPerSecond: 0 }\n');
  env = { DATA_DIR: join(dir.path, 'data'), MOONGATE_CONFIG: file, UPSTREAM_KEY: KEY };
}, 120_000);
afterAll(async () => {
  await upstream?.close();
  await dir?.remove();
});

describe('moongate channel', () => {
  it('adds a channel whose key stays in the environment, and lists both sources without the key', async () => {
    const add = await runMoongate(
      ['channel', 'add', '--name', 'vllm-a', '--kind', 'openai-compatible', '--base-url', upstream.baseUrl,
        '--api-key-env', 'UPSTREAM_KEY', '--models', 'kimi-k2.5=moonshotai/Kimi-K2.5,kimi-k2-thinking', '--priority', '2', '--weight', '3'],
      env,
    );
    expect(add.code, add.stderr).toBe(0);
    const list = await runMoongate(['channel', 'list', '--json'], env);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).not.toContain(KEY);
    const rows = JSON.parse(list.stdout) as Record<string, unknown>[];
    expect(rows).toEqual([
      expect.objectContaining({ name: 'from-file', source: 'file', kind: 'simulator', models: ['kimi-k2-turbo-preview'] }),
      expect.objectContaining({
        name: 'vllm-a', source: 'database', status: 'active', apiKeyEnv: 'UPSTREAM_KEY', priority: 2, weight: 3,
        models: ['kimi-k2.5', 'kimi-k2-thinking'],
      }),
    ]);
    const store = await openStore({ dataDir: env.DATA_DIR ?? '' });
    try {
      const [spec] = await new ChannelStore(store.db).activeSpecs({ UPSTREAM_KEY: KEY });
      expect(spec).toMatchObject({ name: 'vllm-a', apiKey: KEY, models: { 'kimi-k2.5': 'moonshotai/Kimi-K2.5', 'kimi-k2-thinking': 'kimi-k2-thinking' } });
    } finally {
      await store.close();
    }
  });

  it('refuses a duplicate name, a malformed model id and a key given as a value', async () => {
    const again = await runMoongate(['channel', 'add', '--name', 'vllm-a', '--kind', 'simulator'], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already exists');
    const clash = await runMoongate(['channel', 'add', '--name', 'from-file', '--kind', 'simulator'], env);
    expect(clash.stderr).toContain('config file already declares');
    const model = await runMoongate(['channel', 'add', '--name', 'x', '--kind', 'simulator', '--models', 'not a model!'], env);
    expect(model.code).toBe(1);
    expect(model.stderr).toContain('must be a model id');
    const key = await runMoongate(['channel', 'add', '--name', 'y', '--kind', 'openai-compatible', '--base-url', upstream.baseUrl, '--api-key-env', KEY], env);
    expect(key.code).toBe(1);
    expect(key.stderr).toContain('name of an environment variable');
    expect(key.stderr).not.toContain(KEY);
  });

  it('tests a channel: latency and the answer, sent with the key and the upstream model name', async () => {
    const run = await runMoongate(['channel', 'test', 'vllm-a'], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^channel vllm-a: kimi-k2\.5 answered in \d+ ms \(first token \d+ ms\): "Hello from upstream"\n$/);
    expect(upstream.requests.at(-1)).toBe('moonshotai/Kimi-K2.5');
    expect(upstream.authorizations.at(-1)).toBe(`Bearer ${KEY}`);
  });

  it('tests a file channel, and reports an unreachable one with exit code 1', async () => {
    const sim = await runMoongate(['channel', 'test', 'from-file'], env);
    expect(sim.code, sim.stderr).toBe(0);
    expect(sim.stdout).toContain('channel from-file: kimi-k2-turbo-preview answered in');
    upstream.next({ kind: 'status', status: 500 });
    const failed = await runMoongate(['channel', 'test', 'vllm-a'], env);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('channel vllm-a failed: the upstream failed (status 500)');
  });

  it('disables and enables a database channel, not a file one', async () => {
    expect((await runMoongate(['channel', 'disable', 'vllm-a'], env)).code).toBe(0);
    let rows = JSON.parse((await runMoongate(['channel', 'list', '--json'], env)).stdout) as { name: string; status: string }[];
    expect(rows.find((r) => r.name === 'vllm-a')?.status).toBe('disabled');
    const test = await runMoongate(['channel', 'test', 'vllm-a'], env);
    expect(test.stderr).toContain('no active channel is named vllm-a');
    expect((await runMoongate(['channel', 'enable', 'vllm-a'], env)).code).toBe(0);
    rows = JSON.parse((await runMoongate(['channel', 'list', '--json'], env)).stdout) as { name: string; status: string }[];
    expect(rows.find((r) => r.name === 'vllm-a')?.status).toBe('active');
    const file = await runMoongate(['channel', 'disable', 'from-file'], env);
    expect(file.code).toBe(1);
    expect(file.stderr).toContain('declared in the config file');
  });
});
