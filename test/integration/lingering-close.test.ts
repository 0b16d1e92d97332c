/**
 * An answer sent before its body fully arrived (413 too_large, 400 no_token) reaches Node's
 * fetch every time: moongate reads and drops the rest of the body before closing (a
 * lingering close), where closing at once reset the connection under the client's upload
 * (EPIPE or ECONNRESET in most tries). Against the real `moongate serve` in its own
 * process: in the test's own process, client and server share one event loop and the
 * reset never overtook the answer.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, runMoongate, serveMoongate, type ServingMoongate } from '../helpers/moongate-cli.js';

const LIMIT = 64 * 1024;
const TRIES = 8;

let dir: string;
let served: ServingMoongate | undefined;
let token: string;

beforeAll(async () => {
  await ensureBuilt();
  dir = await mkdtemp(join(tmpdir(), 'moongate-linger-'));
  const env = { DATA_DIR: dir, MAX_BODY_BYTES: String(LIMIT) };
  const created = await runMoongate(['credential', 'create', '--email', 'linger@example.com'], env);
  expect(created.code, created.stderr).toBe(0);
  token = created.stdout.trim();
  served = await serveMoongate(env);
}, 60_000);

afterAll(async () => {
  if (served !== undefined) {
    served.child.kill('SIGTERM');
    await served.exited;
  }
  await rm(dir, { recursive: true, force: true });
});

/** 4 MiB of chat request, 64 times the limit. */
const BODY = Buffer.from(JSON.stringify({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'x'.repeat(4 * 1024 * 1024) }] }));

/** The body as a stream of 64 KiB pieces: sent chunked, with no content-length for the server to refuse up front. */
function streamed(): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (let at = 0; at < BODY.length; at += 64 * 1024) controller.enqueue(BODY.subarray(at, at + 64 * 1024));
      controller.close();
    },
  });
}

/** What each try got: the status and error code, or the network error fetch threw. */
async function tries(headers: Record<string, string>, body: () => Buffer | ReadableStream<Uint8Array>): Promise<string[]> {
  const outcomes: string[] = [];
  for (let i = 0; i < TRIES; i++) {
    try {
      const res = await fetch(`${served?.url}/kimi/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: body(),
        duplex: 'half',
      } as RequestInit);
      const answer = (await res.json()) as { error?: { code?: string } };
      outcomes.push(`${res.status} ${answer.error?.code ?? ''}`);
    } catch (error) {
      outcomes.push(String((error as { cause?: { code?: string } }).cause?.code ?? error));
    }
  }
  return outcomes;
}

describe('answers sent before the body arrived', () => {
  it('413 too_large reaches fetch every time, for a body with a content-length', async () => {
    expect(await tries({ authorization: `Bearer ${token}` }, () => BODY)).toEqual(Array(TRIES).fill('413 too_large'));
  });

  it('413 too_large reaches fetch every time, for a streamed (chunked) body', async () => {
    expect(await tries({ authorization: `Bearer ${token}` }, streamed)).toEqual(Array(TRIES).fill('413 too_large'));
  });

  it('400 no_token reaches fetch every time, the body never read', async () => {
    expect(await tries({}, streamed)).toEqual(Array(TRIES).fill('400 no_token'));
  });
});
