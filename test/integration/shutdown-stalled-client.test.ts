/**
 * A streaming client that stops reading and never leaves (its TCP connection stays open):
 * past the drain limit, shutdown cuts its connection, the request settles as aborted
 * (the prompt and what was generated, billed once, committed to the store) and shutdown
 * completes; billing and the store close only after that (docs/operations.md, "Shutdown").
 */
import { readFile, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { openStore } from '../../src/store/open-store.js';
import { countPromptTokens } from '../../src/tokens/count-tokens.js';
import { ScriptedProvider, type ScriptStep } from '../helpers/scripted-provider.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

let moongate: TestServer | undefined;
let client: Socket | undefined;
afterEach(async () => {
  // Without the fix the server would wait for this client for ever: let it go first.
  client?.destroy();
  client = undefined;
  await moongate?.close().catch(() => undefined);
  if (moongate !== undefined) await rm(moongate.dataDir, { recursive: true, force: true });
  moongate = undefined;
});

const MESSAGES = [{ role: 'user' as const, content: 'Hello' }];

/** Whatever the file holds, or '' when there is none. */
async function readOrEmpty(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return '';
  }
}

it('past the drain limit, cuts a stream whose client stopped reading, bills it once, and closes billing after it settled', async () => {
  // An upstream that keeps sending: 24 MiB at once, far more than loopback's socket buffers
  // take, and then it waits (it never finishes on its own before the drain limit).
  const piece = 'y'.repeat(64 * 1024);
  const script: ScriptStep[] = [{ type: 'accept' }, ...Array.from({ length: 384 }, () => ({ type: 'delta', index: 0, content: piece }) as const)];
  script.push({ type: 'gate' }, { type: 'finish', index: 0, reason: 'stop' });
  const provider = new ScriptedProvider(script);
  moongate = await startTestServer({ provider });
  const { server, dataDir } = moongate;
  const before = new Map((await server.store.db.selectFrom('wallets').select(['id', 'amount']).execute()).map((w) => [w.id, w.amount]));

  // The server's end of the client's connection: its writes stall once the client stops reading.
  let serverSide: Socket | undefined;
  server.app.server.once('connection', (socket: Socket) => (serverSide = socket));

  const url = new URL(server.url);
  const body = JSON.stringify({ model: 'kimi-k2.5', messages: MESSAGES, stream: true });
  const socket = connect({ host: url.hostname, port: Number(url.port) });
  client = socket;
  socket.on('error', () => undefined);
  let closed = false;
  socket.on('close', () => (closed = true));
  let received = '';
  const head = new Promise<string>((resolve) => {
    const onData = (chunk: Buffer): void => {
      received += chunk.toString('latin1');
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      // Stops reading (and never closes): the head is read, the stream is not.
      socket.pause();
      resolve(received.slice(0, end));
    };
    socket.on('data', onData);
  });
  socket.write(
    `POST /kimi/chat/completions HTTP/1.1\r\nhost: ${url.host}\r\nauthorization: Bearer ${moongate.token}\r\n` +
      `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  expect(await head).toMatch(/^HTTP\/1\.1 200 /);
  // The kernel's buffers are full and the server's socket waits for 'drain' that never comes.
  await expect.poll(() => serverSide?.writableNeedDrain).toBe(true);
  expect(provider.calls).toHaveLength(1);

  let stopped = false;
  const stopping = server.shutdown(100).then(() => (stopped = true));
  await expect.poll(() => stopped).toBe(true);
  await stopping;
  expect(provider.aborted).toHaveLength(1);
  // The connection was cut: what the client gets has no [DONE].
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  socket.resume();
  await expect.poll(() => closed).toBe(true);
  expect(received).not.toContain('[DONE]');

  // Billing and the store were closed by shutdown; the settlement must be in the store itself.
  const store = await openStore({ dataDir });
  try {
    const rows = await store.db.selectFrom('usage').select(['status', 'stream', 'prompt_tokens', 'completion_tokens', 'cost', 'wallet_id']).execute();
    expect(rows).toHaveLength(1);
    const row = rows[0];
    expect(row).toMatchObject({ status: 'aborted', stream: 'true', prompt_tokens: countPromptTokens(MESSAGES) });
    expect(row?.completion_tokens).toBeGreaterThan(0);
    expect(row?.cost).toBeGreaterThan(0);
    // Committed, not only spooled: nothing waits in the spool, and the wallet holds nothing.
    expect(await readOrEmpty(join(dataDir, 'settlement-spool.jsonl'))).toBe('');
    const wallet = await store.db.selectFrom('wallets').select(['amount', 'held']).where('id', '=', row?.wallet_id ?? '').executeTakeFirstOrThrow();
    expect(wallet.held).toBe(0);
    // Charged once, exactly the row's cost.
    expect(wallet.amount).toBe((before.get(row?.wallet_id ?? '') ?? Number.NaN) - (row?.cost ?? 0));
  } finally {
    await store.close();
  }
});
