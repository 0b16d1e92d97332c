/**
 * SIGTERM on the real `moongate serve`: new connections are refused, a running stream
 * finishes with [DONE], and the process exits 0; past the drain limit, streams are cut
 * and the process still exits 0.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open-store.js';
import { ensureBuilt, spawnMoongate } from '../helpers/moongate-cli.js';
import { mintToken } from '../helpers/mint-token.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

beforeAll(ensureBuilt, 120_000);

let dir: TempDir | undefined;
let child: ChildProcessWithoutNullStreams | undefined;
afterEach(async () => {
  if (child?.exitCode === null) child.kill('SIGKILL');
  child = undefined;
  await dir?.remove();
});

interface Served {
  url: string;
  token: string;
  exit: Promise<number | null>;
  /** Everything the process wrote to stdout and stderr so far. */
  output: () => string;
}

async function serve(tokensPerSecond: number, drainMs: number, logLevel = 'warn'): Promise<Served> {
  dir = await makeTempDir();
  const dataDir = join(dir.path, 'data');
  const store = await openStore({ dataDir });
  const token = await mintToken(store, 'ops@example.com');
  await store.close();
  const config = join(dir.path, 'moongate.config.json');
  await writeFile(
    config,
    JSON.stringify({ channels: [{ name: 'slow-sim', kind: 'simulator', simulator: { ttftMs: 0, tokensPerSecond } }], drainMs }),
  );
  const started = spawnMoongate(['serve'], { DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', MOONGATE_CONFIG: config, LOG_LEVEL: logLevel });
  child = started;
  const exit = new Promise<number | null>((resolve) => started.on('exit', (code) => resolve(code)));
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    started.stdout.setEncoding('utf8').on('data', (text: string) => {
      out += text;
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    started.stderr.setEncoding('utf8').on('data', (text: string) => (out += text));
    void exit.then((code) => reject(new Error(`moongate exited (${code}) before listening:\n${out}`)));
  });
  return { url, token, exit, output: () => out };
}

/** Starts a stream; calls `onFirstData` once the first data chunk arrived; resolves with everything received. */
function stream(served: Served, maxTokens: number, onFirstData: () => void): Promise<string> {
  return new Promise((resolve) => {
    const req = request(`${served.url}/kimi/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${served.token}` },
    });
    let text = '';
    let told = false;
    req.on('response', (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        if (!told && text.includes('data: ')) {
          told = true;
          onFirstData();
        }
      });
      res.on('end', () => resolve(text));
      res.on('error', () => resolve(text));
      res.on('close', () => resolve(text));
    });
    req.on('error', () => resolve(text));
    req.end(
      JSON.stringify({ model: 'kimi-k2-turbo-preview', messages: [{ role: 'user', content: 'Tell me a story' }], stream: true, max_tokens: maxTokens }),
    );
  });
}

/** Whether the server takes a new connection (and answers /healthz on it). */
function connects(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(`${url}/healthz`, { agent: false }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}

describe('graceful shutdown', () => {
  it('SIGTERM lets a running stream finish with [DONE], refuses new connections, and exits 0', async () => {
    const served = await serve(20, 30_000);
    let streamEnded = false;
    let refusal: Promise<{ refused: boolean; whileStreaming: boolean }> | undefined;
    const text = await stream(served, 30, () => {
      child?.kill('SIGTERM');
      // Until the signal lands the server still takes connections; once it has, none. Tried
      // on a new connection each time until one is refused (or the stream is over).
      refusal = (async () => {
        for (;;) {
          const ended = streamEnded;
          if (!(await connects(served.url))) return { refused: true, whileStreaming: !ended };
          if (ended) return { refused: false, whileStreaming: false };
        }
      })();
    });
    streamEnded = true;
    expect(text).toContain('"finish_reason":"length"');
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    // Refused while the stream was still being served: draining, not gone.
    expect(await refusal).toEqual({ refused: true, whileStreaming: true });
    expect(await served.exit).toBe(0);
  });

  it('writes every access line still buffered before it exits (LOG_LEVEL=info; docs/operations.md, "Logs")', async () => {
    const served = await serve(1_000, 30_000, 'info');
    const traceIds: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${served.url}/kimi/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${served.token}` },
        body: JSON.stringify({ model: 'kimi-k2-0905-preview', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 5 }),
      });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      traceIds.push(res.headers.get('x-trace-id') ?? '');
    }
    child?.kill('SIGTERM');
    expect(await served.exit).toBe(0);
    const lines = served
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { msg: string; trace_id?: string });
    expect(lines.filter((line) => line.msg === 'request').map((line) => line.trace_id)).toEqual(traceIds);
    expect(lines.at(-1)?.msg).toBe('shut down');
  });

  it('past drainMs, cuts the streams still running and exits 0', async () => {
    const served = await serve(5, 300);
    const text = await stream(served, 500, () => child?.kill('SIGTERM'));
    expect(text).toContain('data: ');
    expect(text).not.toContain('[DONE]');
    expect(await served.exit).toBe(0);
  });
});
