/**
 * Request bodies (docs/security.md): cheap checks come before the body is read, a body has
 * a deadline, the bodies still arriving share one byte cap, and an answer sent before its
 * body arrived reaches the client (a lingering close, not a reset).
 */
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { TRACE_ID_PATTERN, type ErrorCode } from '../../src/contract/index.js';
import { ChatGateway, type OpenedCall } from '../../src/gateway/chat-gateway.js';
import type { AuthenticatedCaller } from '../../src/gateway/pipeline.js';
import { AccessLog } from '../../src/http/access-log.js';
import { buildApp } from '../../src/http/app.js';
import type { Schedule } from '../../src/http/body-guard.js';
import { MemoryRequestLimiter } from '../../src/limits/memory-request-limiter.js';
import type { LimitDecision, RequestLimiter, RequestLimits } from '../../src/limits/request-limiter.js';
import { fundedCredential } from '../helpers/funded-credential.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const HELLO = { model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 5 };
const LIMIT = 64 * 1024;

interface Envelope {
  success: boolean;
  error: { code: ErrorCode; message: string };
  trace_id: string;
}

/** A raw HTTP/1.1 exchange: the head and as much of the body as the test chooses to send. */
interface RawExchange {
  socket: Socket;
  /** The whole answer (head and body), once its head and content-length bytes arrived. */
  answer: Promise<{ status: number; headers: Record<string, string>; body: string }>;
  /** Resolves when the server closed the connection. */
  closed: Promise<void>;
}

function rawPost(baseUrl: string, path: string, headers: Record<string, string>, firstBytes: string): Promise<RawExchange> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), noDelay: true }, () => {
      const head = Object.entries({ host: `${hostname}:${port}`, ...headers })
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join('');
      socket.write(`POST ${path} HTTP/1.1\r\n${head}\r\n${firstBytes}`);
      let text = '';
      const answer = new Promise<{ status: number; headers: Record<string, string>; body: string }>((done, fail) => {
        socket.setEncoding('utf8').on('data', (part: string) => {
          text += part;
          const end = text.indexOf('\r\n\r\n');
          if (end === -1) return;
          const lines = text.slice(0, end).split('\r\n');
          const parsed = Object.fromEntries(lines.slice(1).map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
          const body = text.slice(end + 4);
          if (Buffer.byteLength(body) >= Number(parsed['content-length'] ?? 0)) {
            done({ status: Number(lines[0]?.split(' ')[1]), headers: parsed, body });
          }
        });
        socket.once('close', () => fail(new Error(`the connection closed before an answer: ${JSON.stringify(text)}`)));
      });
      answer.catch(() => undefined);
      const closed = new Promise<void>((done) => socket.once('close', () => done()));
      // A reset from the server is a way of closing too; the tests look at what came before.
      socket.on('error', () => undefined);
      resolve({ socket, answer, closed });
    });
    socket.once('error', reject);
  });
}

function expectEnvelope(answer: { status: number; headers: Record<string, string>; body: string }, status: number, code: ErrorCode): Envelope {
  const body = JSON.parse(answer.body) as Envelope;
  expect({ status: answer.status, code: body.error.code }).toEqual({ status, code });
  expect(body.trace_id).toMatch(TRACE_ID_PATTERN);
  expect(answer.headers['x-trace-id']).toBe(body.trace_id);
  return body;
}

function chatBody(contentLength: number): string {
  const empty = JSON.stringify({ ...HELLO, messages: [{ role: 'user', content: '' }] });
  return JSON.stringify({ ...HELLO, messages: [{ role: 'user', content: 'x'.repeat(contentLength - empty.length) }] });
}

describe('order of checks, on the real server', () => {
  let moongate: TestServer;
  beforeAll(async () => {
    moongate = await startTestServer({ env: { MAX_BODY_BYTES: String(LIMIT), MAX_PENDING_BODY_BYTES: String(4 * LIMIT) } });
  });
  afterAll(async () => {
    await moongate?.close();
  });

  async function post(body: string, headers: Record<string, string>): Promise<{ status: number; body: Envelope }> {
    const res = await fetch(`${moongate.url}/kimi/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    return { status: res.status, body: (await res.json()) as Envelope };
  }

  it('no credential: 400 no_token, even for a body over the limit or not JSON', async () => {
    const big = await post(chatBody(2 * LIMIT), {});
    expect([big.status, big.body.error.code]).toEqual([400, 'no_token']);
    const broken = await post('{"model": ', {});
    expect([broken.status, broken.body.error.code]).toEqual([400, 'no_token']);
  });

  it('an unknown token: 401 invalid_token, the body neither parsed nor size-checked', async () => {
    const broken = await post('{"model": ', { authorization: 'Bearer mg-unknown' });
    expect([broken.status, broken.body.error.code]).toEqual([401, 'invalid_token']);
    const big = await post(chatBody(2 * LIMIT), { authorization: 'Bearer mg-unknown' });
    expect([big.status, big.body.error.code]).toEqual([401, 'invalid_token']);
  });

  it('answers 401 before the body is sent: a 16 MiB body declared, a few bytes of it sent', async () => {
    const exchange = await rawPost(
      moongate.url,
      '/kimi/chat/completions',
      { 'content-type': 'application/json', 'content-length': String(16 * 1024 * 1024), authorization: 'Bearer mg-unknown' },
      '{"model":"kimi-k2.5","messages":[',
    );
    const answer = await exchange.answer;
    expectEnvelope(answer, 401, 'invalid_token');
    // The rest of the body will not be wanted on this connection.
    expect(answer.headers.connection).toBe('close');
    exchange.socket.destroy();
  }, 10_000);

  it('the bodies still arriving share one cap: the body that crosses it gets 429, the others are served', async () => {
    const caller = await fundedCredential(moongate.server.store, 'cap@example.com', { balance: 100_000_000, concurrency: 1_000, rps: 1_000 });
    const size = LIMIT - 1024;
    const body = chatBody(size);
    const sent = size - 4096;
    // Eight bodies of 60 KiB against a cap of 256 KiB: at most four fit at once.
    const exchanges: RawExchange[] = [];
    for (let i = 0; i < 8; i++) {
      exchanges.push(
        await rawPost(
          moongate.url,
          '/kimi/chat/completions',
          { 'content-type': 'application/json', 'content-length': String(size), authorization: `Bearer ${caller.token}` },
          body.slice(0, sent),
        ),
      );
    }
    const first = await Promise.race(exchanges.map((exchange, index) => exchange.answer.then((answer) => ({ answer, index }))));
    const refused = expectEnvelope(first.answer, 429, 'too_many_requests');
    expect(refused.error.message).toMatch(/too many request bodies/);
    expect(Number(first.answer.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(first.answer.headers.connection).toBe('close');

    // The rest of each body: those still being received finish and are served.
    for (const exchange of exchanges) if (!exchange.socket.destroyed) exchange.socket.write(body.slice(sent));
    const statuses = await Promise.all(exchanges.map((exchange) => exchange.answer.then((answer) => answer.status)));
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((status) => status === 200 || status === 429)).toBe(true);
    expect(statuses.filter((status) => status === 200).length).toBeGreaterThanOrEqual(3);
    for (const exchange of exchanges) exchange.socket.destroy();
    // Every byte came back to the cap: four bodies as large as the limit are received at once.
    const again = await Promise.all(
      Array.from({ length: 4 }, () =>
        fetch(`${moongate.url}/kimi/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${caller.token}` },
          body: chatBody(LIMIT - 4 * 1024),
        }).then((res) => res.status),
      ),
    );
    expect(again).toEqual([200, 200, 200, 200]);
  });
});

const CALLER: AuthenticatedCaller = {
  credentialId: 'cred_1',
  personId: 'per_1',
  applicationId: null,
  serviceId: 'svc_1',
  global: true,
  limits: { rps: 1_000, concurrency: 1 },
};

/** The fields of an access line this file looks at. */
interface AccessLine {
  path: string;
  aborted?: boolean;
  model?: string;
}

/** The real limiter, telling the test each time a permit comes back. */
class WatchedLimiter implements RequestLimiter {
  readonly #inner = new MemoryRequestLimiter();
  released = 0;
  #waiters: Array<() => void> = [];
  async acquire(key: string, limits: RequestLimits): Promise<LimitDecision> {
    const decision = await this.#inner.acquire(key, limits);
    if (!decision.admitted) return decision;
    let done = false;
    return {
      admitted: true,
      permit: {
        release: () => {
          decision.permit.release();
          if (done) return;
          done = true;
          this.released += 1;
          for (const wake of this.#waiters.splice(0)) wake();
        },
      },
    };
  }
  /** Resolves once `count` permits in all have come back. */
  async releases(count: number): Promise<void> {
    while (this.released < count) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }
  close(): void {
    this.#inner.close();
  }
}

/** Timers the test fires itself: the body deadline and the lingering close. */
class ManualSchedule {
  readonly pending: Array<{ fn: () => void; ms: number; cancelled: boolean }> = [];
  #waiters: Array<() => void> = [];
  readonly schedule: Schedule = (fn, ms) => {
    const task = { fn, ms, cancelled: false };
    this.pending.push(task);
    for (const wake of this.#waiters.splice(0)) wake();
    return () => {
      task.cancelled = true;
    };
  };
  /** Resolves with the first live task of `ms`, once one is scheduled. */
  async next(ms: number): Promise<{ fire: () => void }> {
    for (;;) {
      const task = this.pending.find((t) => t.ms === ms && !t.cancelled);
      if (task !== undefined) {
        return {
          fire: () => {
            task.cancelled = true;
            task.fn();
          },
        };
      }
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }
}

describe('the body deadline and the permit, on an app with a stand-in upstream', () => {
  const TIMEOUT_MS = 30_000;
  let app: FastifyInstance;
  let limiter: WatchedLimiter;
  let baseUrl: string;
  let timers: ManualSchedule;
  let parsedBodies = 0;
  let releaseUpstream: () => void = () => undefined;
  let upstreamCalled: Promise<void>;
  let upstreamCalledResolve: () => void = () => undefined;
  let admitSlow: (() => void) | undefined;
  const accessLines: AccessLine[] = [];
  let slowAsked: () => void = () => undefined;

  beforeAll(async () => {
    timers = new ManualSchedule();
    limiter = new WatchedLimiter();
    const gateway = new ChatGateway({
      authenticate: (authorization) => {
        // Admitted when the test says so: a client can leave while its credential is checked.
        if (authorization === 'Bearer slow') {
          return new Promise((resolve) => {
            admitSlow = () => resolve(CALLER);
            slowAsked();
          });
        }
        if (authorization !== 'Bearer good') return Promise.reject(new Error('unexpected token in this test'));
        return Promise.resolve(CALLER);
      },
      limiter,
      router: {
        open: async (): Promise<OpenedCall> => {
          parsedBodies += 1;
          upstreamCalledResolve();
          await new Promise<void>((resolve) => (releaseUpstream = resolve));
          const events: AsyncIterator<never> = { next: () => Promise.resolve({ done: true, value: undefined }) };
          return { channel: 'stand-in', first: { done: true, value: undefined }, events };
        },
      },
    });
    // The access lines alone, to see each request's line written however it ended.
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line !== '') accessLines.push(JSON.parse(line) as AccessLine);
        done();
      },
    });
    app = buildApp({
      gateway,
      maxBodyBytes: LIMIT,
      bodies: { maxPendingBytes: 4 * LIMIT, timeoutMs: TIMEOUT_MS },
      bodySchedule: timers.schedule,
      logger: false,
      accessLog: new AccessLog(pino({ level: 'info' }, sink)),
    });
    app.addHook('onClose', () => limiter.close());
    baseUrl = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    releaseUpstream();
    await app?.close();
  });

  /** The answer says `connection: close`, yet the connection stays open to drain the rest of the body until its linger ends. */
  const expectLingeringClose = async (exchange: RawExchange, answer: { headers: Record<string, string> }, more: string): Promise<void> => {
    expect(answer.headers.connection).toBe('close');
    // More bytes are taken without a reset.
    exchange.socket.write(more);
    const linger = await timers.next(5_000);
    expect(exchange.socket.destroyed).toBe(false);
    linger.fire();
    await exchange.closed;
  };

  it('a body that does not arrive in time gets 408 request_timeout; the connection lingers, then closes', async () => {
    const exchange = await rawPost(
      baseUrl,
      '/kimi/chat/completions',
      { 'content-type': 'application/json', 'content-length': '1000', authorization: 'Bearer good' },
      '{"model":"kimi-k2.5",',
    );
    (await timers.next(TIMEOUT_MS)).fire();
    const answer = await exchange.answer;
    const body = expectEnvelope(answer, 408, 'request_timeout');
    expect(body.error.message).toBe('The request body did not arrive within 30000 ms.');
    await expectLingeringClose(exchange, answer, '"messages":[');
  });

  it('the deadline applies to every route with a body, not only the chat API', async () => {
    const exchange = await rawPost(baseUrl, '/api/login', { 'content-type': 'application/json', 'content-length': '100' }, '{"email":');
    (await timers.next(TIMEOUT_MS)).fire();
    expectEnvelope(await exchange.answer, 408, 'request_timeout');
    exchange.socket.destroy();
  });

  it('over its concurrency, a request is refused before its body is read: 429, not 400 for a body that is not JSON', async () => {
    upstreamCalled = new Promise((resolve) => (upstreamCalledResolve = resolve));
    const running = fetch(`${baseUrl}/kimi/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer good' },
      body: JSON.stringify(HELLO),
    });
    await upstreamCalled;
    const before = parsedBodies;
    const refused = await fetch(`${baseUrl}/kimi/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer good' },
      body: '{"model": ',
    });
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as Envelope).error.code).toBe('too_many_requests');
    expect(parsedBodies).toBe(before);
    releaseUpstream();
    await (await running).arrayBuffer();
  });

  it('a whole request whose client leaves while it is admitted: its permit comes back, and nothing reaches an upstream', async () => {
    const body = JSON.stringify(HELLO);
    const serverSide = once(app.server, 'connection') as Promise<[Socket]>;
    const asked = new Promise<void>((resolve) => (slowAsked = resolve));
    const exchange = await rawPost(baseUrl, '/kimi/chat/completions', { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), authorization: 'Bearer slow' }, body);
    const [socket] = await serverSide;
    await asked;
    const released = limiter.released;
    const before = parsedBodies;
    // Node destroys a request whose connection closes, even one whose bytes all arrived: its body can no longer be read.
    exchange.socket.destroy();
    await once(socket, 'close');
    admitSlow?.();
    await limiter.releases(released + 1);
    expect(parsedBodies).toBe(before);
  });

  it('a pipelined request whose client hangs up while it waits its turn: its access line is written once its work ends, and so is its permit', async () => {
    // The first request waits to be admitted; the second, behind it on the same connection,
    // reaches the upstream with its answer queued (Node gives it the socket only after the first's).
    const first = JSON.stringify(HELLO);
    const second = `POST /kimi/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nauthorization: Bearer good\r\ncontent-length: ${Buffer.byteLength(first)}\r\n\r\n${first}`;
    const serverSide = once(app.server, 'connection') as Promise<[Socket]>;
    const asked = new Promise<void>((resolve) => (slowAsked = resolve));
    upstreamCalled = new Promise((resolve) => (upstreamCalledResolve = resolve));
    const exchange = await rawPost(baseUrl, '/kimi/chat/completions', { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(first)), authorization: 'Bearer slow' }, first + second);
    const [socket] = await serverSide;
    await Promise.all([asked, upstreamCalled]);
    const released = limiter.released;
    const lines = accessLines.length;
    exchange.socket.destroy();
    await once(socket, 'close');
    // The first's line is written as the connection closes (its work had not begun); the
    // second's, whose work is at the upstream, waits for that work to be settled.
    expect(accessLines.slice(lines).map((line) => [line.path, line.aborted, line.model])).toEqual([['/kimi/chat/completions', true, undefined]]);
    releaseUpstream();
    // The second's permit, whose answer was never given a socket. (The first, admitted now, is
    // refused: the second held the credential's one place when it asked.)
    await limiter.releases(released + 1);
    // Its line came before its permit, as a client that left, with the model it was answered by.
    expect(accessLines.slice(lines).map((line) => [line.path, line.aborted, line.model])).toEqual([
      ['/kimi/chat/completions', true, undefined],
      ['/kimi/chat/completions', true, 'kimi-k2.5'],
    ]);
    admitSlow?.();
  });

  it('a body still arriving with a content-type that is not a media type: 400, then the connection lingers to drain it', async () => {
    const exchange = await rawPost(baseUrl, '/kimi/chat/completions', { 'content-type': 'a/b/c', 'content-length': '1000', authorization: 'Bearer good' }, '{"model":');
    const answer = await exchange.answer;
    expectEnvelope(answer, 400, 'bad_request');
    await expectLingeringClose(exchange, answer, '"kimi-k2.5",');
  });

  it('the permit comes back on every path: a 413, a body that is not JSON, a 408, a client gone mid-upload', async () => {
    const good = { 'content-type': 'application/json', authorization: 'Bearer good' };
    const statusOf = async (body: string): Promise<number> => {
      const res = await fetch(`${baseUrl}/kimi/chat/completions`, { method: 'POST', headers: good, body });
      await res.arrayBuffer();
      return res.status;
    };
    expect(await statusOf(chatBody(2 * LIMIT))).toBe(413);
    expect(await statusOf('{"model": ')).toBe(400);
    const slow = await rawPost(baseUrl, '/kimi/chat/completions', { ...good, 'content-length': '1000' }, '{');
    (await timers.next(TIMEOUT_MS)).fire();
    expect((await slow.answer).status).toBe(408);
    slow.socket.destroy();
    const gone = await rawPost(baseUrl, '/kimi/chat/completions', { ...good, 'content-length': '1000' }, '{');
    // Its deadline is scheduled once its body is being read, so its permit is taken by then.
    await timers.next(TIMEOUT_MS);
    const released = limiter.released;
    gone.socket.destroy();
    await limiter.releases(released + 1);
    // With a concurrency of 1, this runs only if every one of those gave its slot back.
    upstreamCalled = new Promise((resolve) => (upstreamCalledResolve = resolve));
    const last = fetch(`${baseUrl}/kimi/chat/completions`, { method: 'POST', headers: good, body: JSON.stringify(HELLO) });
    await upstreamCalled;
    releaseUpstream();
    expect((await last).status).not.toBe(429);
  });
});
