/**
 * A flood of slow request bodies, half without a credential and half with a valid one,
 * against the real `moongate serve` (a child process, so its RSS is its own): the RSS
 * after the flood, once garbage is collected, comes back near where it was before.
 * Bodies without a credential are refused before they are read; the others are bounded
 * by MAX_PENDING_BODY_BYTES, counting the per-chunk overhead a body sent a few bytes at a
 * time costs (docs/security.md). Driven by bytes and events: nothing here waits on a clock.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, ensureBuilt, runMoongate } from '../helpers/moongate-cli.js';

const BIN = join(ROOT, 'bin', 'moongate.js');
/** Connections in the flood, half of them without a credential. */
const CONNECTIONS = 400;
/** Each body is declared this long and never finished. */
const DECLARED = 1024 * 1024;
/** Bytes per write, each on its own TCP segment (no Nagle), round-robin over the connections. */
const PIECE = 16;
const ROUNDS = 2_000;

let dir: string;
let child: ChildProcess | undefined;
let url: string;
let token: string;
let stderr = '';

beforeAll(async () => {
  await ensureBuilt();
  dir = await mkdtemp(join(tmpdir(), 'moongate-flood-'));
  // The flood is one person's: their own limits are lifted like the credential's, so what is measured is memory.
  const env = {
    DATA_DIR: dir,
    LOG_LEVEL: 'warn',
    PORT: '0',
    HOST: '127.0.0.1',
    MOONGATE_SIM_TTFT_MS: '0',
    MOONGATE_SIM_TOKENS_PER_S: '0',
    PERSON_RPS_LIMIT: '1000000',
    PERSON_CONCURRENCY_LIMIT: '100000',
  };
  const created = await runMoongate(['credential', 'create', '--email', 'flood@example.com', '--rps', '1000000', '--concurrency', '100000'], env);
  expect(created.code, created.stderr).toBe(0);
  token = created.stdout.trim();
  // The flags of bin/moongate.js's shebang, and where an inspector would listen (opened by SIGUSR1 below).
  child = spawn(process.execPath, ['--max-semi-space-size=8', '--inspect-port=127.0.0.1:0', BIN, 'serve'], {
    cwd: ROOT,
    env: { ...process.env, ...env, DATABASE_URL: undefined, MOONSHOT_API_KEY: undefined, MOONGATE_CONFIG: undefined },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr?.setEncoding('utf8').on('data', (part: string) => (stderr += part));
  url = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    child?.stdout?.setEncoding('utf8').on('data', (part: string) => {
      stdout += part;
      const found = /listening on (http:\/\/\S+)/.exec(stdout)?.[1];
      if (found !== undefined) resolve(found);
    });
    child?.once('exit', (code) => reject(new Error(`moongate exited (${code}) before listening: ${stderr}`)));
  });
}, 60_000);

afterAll(async () => {
  if (child !== undefined && child.exitCode === null) {
    const gone = new Promise((resolve) => child?.once('exit', resolve));
    child.kill('SIGTERM');
    await gone;
  }
  await rm(dir, { recursive: true, force: true });
});

/** The inspector's address: SIGUSR1 opens it, node prints it on stderr. */
async function inspectorUrl(): Promise<string> {
  const listening = /Debugger listening on (ws:\/\/\S+)/;
  const found = listening.exec(stderr)?.[1];
  if (found !== undefined) return found;
  return new Promise((resolve) => {
    const check = (): void => {
      const address = listening.exec(stderr)?.[1];
      if (address === undefined) return;
      child?.stderr?.off('data', check);
      resolve(address);
    };
    child?.stderr?.on('data', check);
    child?.kill('SIGUSR1');
  });
}

/** A full garbage collection in moongate, over the inspector protocol. */
async function collectGarbage(): Promise<void> {
  const socket = new WebSocket(await inspectorUrl());
  try {
    await new Promise<void>((resolve, reject) => {
      socket.onopen = () => resolve();
      socket.onerror = () => reject(new Error('could not reach the inspector'));
    });
    await new Promise<void>((resolve) => {
      socket.onmessage = () => resolve();
      socket.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' }));
    });
  } finally {
    socket.close();
  }
}

/** moongate's resident set, in MiB, from /proc. */
async function rssMiB(): Promise<number> {
  const status = await readFile(`/proc/${child?.pid}/status`, 'utf8');
  const kib = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]);
  return Math.round((kib / 1024) * 10) / 10;
}

async function settledRss(): Promise<number> {
  await collectGarbage();
  return rssMiB();
}

/** A chat request that completes: the server is serving, and has handled what came before on its loop. */
async function chat(): Promise<number> {
  const res = await fetch(`${url}/kimi/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 5 }),
  });
  await res.arrayBuffer();
  return res.status;
}

interface SlowBody {
  socket: Socket;
  /** Resolves with the status line of the answer, or 'closed' when the connection ended without one. */
  answered: Promise<string>;
}

function openSlowBody(authorized: boolean): Promise<SlowBody> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const socket = connect({ host: hostname, port: Number(port), noDelay: true }, () => {
      socket.write(
        'POST /kimi/chat/completions HTTP/1.1\r\n' +
          `host: ${hostname}:${port}\r\ncontent-type: application/json\r\ncontent-length: ${DECLARED}\r\n` +
          (authorized ? `authorization: Bearer ${token}\r\n` : '') +
          '\r\n{"model":"kimi-k2.5","messages":[{"role":"user","content":"',
      );
      let head = '';
      const answered = new Promise<string>((done) => {
        socket.setEncoding('utf8').on('data', (part: string) => {
          head += part;
          const line = /^HTTP\/1\.1 (\d{3})/.exec(head)?.[1];
          if (line !== undefined) done(line);
        });
        socket.once('close', () => done('closed'));
      });
      resolve({ socket, answered });
    });
    socket.once('error', reject);
    // A reset once the server stops lingering is expected; it must not fail the test.
    socket.on('error', () => undefined);
  });
}

describe('a flood of slow bodies', () => {
  it('leaves moongate’s RSS where it was, once the flood is over', async () => {
    expect(await chat()).toBe(200);
    const before = await settledRss();

    const bodies: SlowBody[] = [];
    for (let i = 0; i < CONNECTIONS; i++) bodies.push(await openSlowBody(i % 2 === 0));
    const piece = 'x'.repeat(PIECE);
    for (let round = 0; round < ROUNDS; round++) {
      for (const body of bodies) if (body.socket.writable) body.socket.write(piece);
      // Let the writes leave before the next round, so the server reads them piece by piece.
      if (round % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await chat()).toBe(200);
    const during = await rssMiB();
    const answers = new Map<string, number>();
    for (const body of bodies) {
      body.socket.destroy();
      const status = await body.answered;
      answers.set(status, (answers.get(status) ?? 0) + 1);
    }
    expect(await chat()).toBe(200);
    const after = await settledRss();
    console.log(`slow-body flood: RSS ${before} MiB before, ${during} MiB during, ${after} MiB after (answers: ${JSON.stringify(Object.fromEntries(answers))})`);
    // Bodies without a credential were refused unread (400 no_token) before any of them was held.
    expect(answers.get('400')).toBe(CONNECTIONS / 2);
    expect(after - before).toBeLessThan(32);
  }, 180_000);
});
