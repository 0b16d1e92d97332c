/**
 * The config file: the bench harness's exact format parses, defaults are filled in,
 * `${ENV}` is substituted (a missing variable is an error naming the path), errors name
 * the bad field and never echo a secret, YAML works, and the result is deep-frozen.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigFileError, findConfigFile, loadChannelsFile, parseChannelsFile } from '../../src/channels/load-channels-file.js';
import { loadConfig } from '../../src/config.js';
import { KIMI_MODEL_IDS } from '../../src/contract/index.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

const ENV = { FAKE_UPSTREAM_KEY: 'sk-fake-upstream-secret', MOONSHOT_API_KEY: 'sk-moonshot-secret' };

/** The example of the brief, verbatim but for the comment JSON does not allow. */
const BRIEF_EXAMPLE = {
  channels: [
    {
      name: 'fast', kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:9999/v1', apiKey: '${FAKE_UPSTREAM_KEY}',
      models: ['kimi-k2.5', 'kimi-k2-thinking'], priority: 0, weight: 1, maxConcurrency: 256,
      timeouts: { connectMs: 5000, headersMs: 60000, firstTokenMs: 120000, idleMs: 60000, totalMs: 900000 },
    },
    { name: 'sim', kind: 'simulator', models: '*', simulator: { ttftMs: 0, tokensPerSecond: 0 } },
    { name: 'moonshot', kind: 'moonshot', apiKey: '${MOONSHOT_API_KEY}', models: '*' },
  ],
  routing: { maxAttempts: 3, budgetMs: 30000, breaker: { failures: 5, cooldownMs: 30000 } },
  keepAliveMs: 15000,
  drainMs: 30000,
};

function parse(raw: unknown, env: NodeJS.ProcessEnv = ENV) {
  return parseChannelsFile(raw, env, 'moongate.config.json');
}

function errorOf(raw: unknown, env: NodeJS.ProcessEnv = ENV): string {
  try {
    parse(raw, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigFileError);
    return (error as Error).message;
  }
  throw new Error('expected the config to be rejected');
}

describe('the config file format', () => {
  it("parses the bench harness's example, substituting keys and resolving models", () => {
    const file = parse(BRIEF_EXAMPLE);
    const [fast, sim, moonshot] = file.channels;
    expect(fast).toMatchObject({
      name: 'fast', kind: 'openai-compatible', apiKey: ENV.FAKE_UPSTREAM_KEY, maxConcurrency: 256, source: 'file',
      models: { 'kimi-k2.5': 'kimi-k2.5', 'kimi-k2-thinking': 'kimi-k2-thinking' },
      timeouts: { connectMs: 5000, headersMs: 60000, firstTokenMs: 120000, idleMs: 60000, totalMs: 900000 },
    });
    expect(Object.keys(sim?.models ?? {})).toEqual(KIMI_MODEL_IDS);
    expect(sim).toMatchObject({ kind: 'simulator', simulator: { ttftMs: 0, tokensPerSecond: 0 } });
    expect(moonshot).toMatchObject({ kind: 'moonshot', apiKey: ENV.MOONSHOT_API_KEY, baseUrl: 'https://api.moonshot.ai/v1' });
    expect(file.routing).toEqual({ maxAttempts: 3, budgetMs: 30000, backoffMs: 50, breaker: { failures: 5, cooldownMs: 30000 } });
    expect({ keepAliveMs: file.keepAliveMs, drainMs: file.drainMs }).toEqual({ keepAliveMs: 15000, drainMs: 30000 });
  });

  it('maps public names to upstream names', () => {
    const file = parse({ channels: [{ name: 'v', kind: 'openai-compatible', baseUrl: 'http://v:8000/v1', models: { 'kimi-k2.5': 'moonshotai/Kimi-K2-Instruct' } }] });
    expect(file.channels[0]?.models).toEqual({ 'kimi-k2.5': 'moonshotai/Kimi-K2-Instruct' });
  });

  it('fills in every default for a bare channel', () => {
    const [channel] = parse({ channels: [{ name: 's', kind: 'simulator' }] }).channels;
    expect(channel).toMatchObject({
      priority: 0, weight: 1, maxConcurrency: 1024, enabled: true,
      timeouts: { connectMs: 10_000, headersMs: 60_000, firstTokenMs: 120_000, idleMs: 60_000, totalMs: 900_000 },
    });
    expect(Object.keys(channel?.models ?? {})).toHaveLength(7);
  });

  it('is deep-frozen', () => {
    const file = parse(BRIEF_EXAMPLE);
    expect(Object.isFrozen(file)).toBe(true);
    expect(Object.isFrozen(file.channels[0]?.timeouts)).toBe(true);
    expect(Object.isFrozen(file.routing.breaker)).toBe(true);
  });
});

describe('config file errors name the path and never echo a secret', () => {
  it('a missing environment variable', () => {
    expect(errorOf(BRIEF_EXAMPLE, { FAKE_UPSTREAM_KEY: 'x' })).toBe(
      'moongate.config.json: channels[2].apiKey: the environment variable MOONSHOT_API_KEY is not set',
    );
  });

  it('an unknown kind, a bad URL, a malformed model id, a typo and a duplicate name', () => {
    expect(errorOf({ channels: [{ name: 'a', kind: 'vllm' }] })).toMatch(/^moongate\.config\.json: channels\[0\]\.kind: /);
    expect(errorOf({ channels: [{ name: 'a', kind: 'openai-compatible', baseUrl: 'not a url' }] })).toMatch(/channels\[0\]\.baseUrl: /);
    expect(errorOf({ channels: [{ name: 'a', kind: 'simulator', models: ['not a model!'] }] })).toMatch(/channels\[0\]\.models\[0\]: must be a model id/);
    expect(errorOf({ channels: [{ name: 'a', kind: 'simulator', wieght: 2 }] })).toMatch(/channels\[0\]: .*wieght/);
    expect(errorOf({ channels: [{ name: 'a', kind: 'simulator' }, { name: 'a', kind: 'simulator' }] })).toBe(
      'moongate.config.json: channels[1].name: "a" is used twice',
    );
    expect(errorOf({ routing: { maxAttempts: 0 } })).toMatch(/routing\.maxAttempts: /);
  });

  it('a secret in a bad place is not echoed', () => {
    const message = errorOf({ channels: [{ name: 'a', kind: 'openai-compatible', baseUrl: '${FAKE_UPSTREAM_KEY}' }] });
    expect(message).toMatch(/channels\[0\]\.baseUrl/);
    expect(message).not.toContain(ENV.FAKE_UPSTREAM_KEY);
  });
});

describe('finding the file', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await dir.remove();
  });

  it('reads YAML named by MOONGATE_CONFIG, with ${ENV}', async () => {
    const file = join(dir.path, 'channels.yml');
    await writeFile(file, 'channels:\n  - name: m\n    kind: moonshot\n    apiKey: ${MOONSHOT_API_KEY}\nkeepAliveMs: 5000\n');
    const loaded = loadChannelsFile({ ...ENV, MOONGATE_CONFIG: file }, dir.path);
    expect(loaded.channels[0]).toMatchObject({ name: 'm', apiKey: ENV.MOONSHOT_API_KEY });
    expect(loaded.keepAliveMs).toBe(5000);
  });

  it('uses ./moongate.config.json when present, nothing when absent, and fails on a missing named file', async () => {
    expect(findConfigFile({}, dir.path)).toBeUndefined();
    expect(loadChannelsFile({}, dir.path).channels).toEqual([]);
    await writeFile(join(dir.path, 'moongate.config.json'), '{"channels": [{"name": "s", "kind": "simulator"}]}');
    expect(loadChannelsFile({}, dir.path).channels.map((c) => c.name)).toEqual(['s']);
    expect(() => loadChannelsFile({ MOONGATE_CONFIG: 'nope.json' }, dir.path)).toThrow(/does not exist/);
  });

  it('reports invalid JSON with the file name', async () => {
    await writeFile(join(dir.path, 'moongate.config.json'), '{"channels": [');
    expect(() => loadChannelsFile({}, dir.path)).toThrow(/moongate\.config\.json: not valid JSON/);
  });

  it('loadConfig carries the file', async () => {
    const file = join(dir.path, 'c.json');
    await writeFile(file, JSON.stringify({ drainMs: 1234 }));
    expect(loadConfig({ MOONGATE_CONFIG: file, DATA_DIR: dir.path }).channelsFile.drainMs).toBe(1234);
  });
});

describe('displayUrl', () => {
  it('masks user info and query strings, keeps the rest', async () => {
    const { displayUrl } = await import('../../src/channels/display-url.js');
    expect(displayUrl('http://vllm:8000/v1')).toBe('http://vllm:8000/v1');
    expect(displayUrl('https://user:hunter2@gw.example/v1?key=abc')).toBe('https://***@gw.example/v1?***');
  });
});
