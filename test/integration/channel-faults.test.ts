/**
 * Channels against a fault-injecting upstream (real HTTP servers on port 0): for each
 * fault, what the client gets is what SPEC.md says, failover happens only before the first
 * byte, every admitted request settles once with the usage it was sent, and no upstream
 * response or socket is left open (each test counts them).
 */
import { writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeUsage } from '../../src/contract/index.js';
import { LOG_REDACTIONS } from '../../src/http/app.js';
import { countPromptTokens, countTextTokens } from '../../src/tokens/count-tokens.js';
import { FaultUpstream, PROMPT_TOKENS_REPORTED, type Fault } from '../helpers/fault-upstream.js';
import { RecordingAdmitter } from '../helpers/recording-admitter.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const KEY = 'sk-fault-secret-0123456789';
const MESSAGES = [{ role: 'user' as const, content: 'Hello' }];
const TIMEOUTS = { connectMs: 1000, headersMs: 400, firstTokenMs: 700, idleMs: 400, totalMs: 10_000 };

let primary: FaultUpstream;
let backup: FaultUpstream;
let admitter: RecordingAdmitter;
let moongate: TestServer | undefined;
let dir: TempDir;

beforeEach(async () => {
  primary = await FaultUpstream.start();
  backup = await FaultUpstream.start();
  admitter = new RecordingAdmitter();
  dir = await makeTempDir();
});

afterEach(async () => {
  // Nothing holds an upstream call once the client is done...
  await primary.until(() => primary.activeResponses === 0, 'primary responses to end');
  await backup.until(() => backup.activeResponses === 0, 'backup responses to end');
  // ...every admitted request settled exactly once...
  expect(admitter.open).toBe(0);
  expect(new Set(admitter.settlements.map((s) => s.traceId)).size).toBe(admitter.settlements.length);
  // ...and closing moongate releases its pooled upstream sockets: none is left.
  await moongate?.close();
  moongate = undefined;
  await primary.until(() => primary.openSockets === 0, 'primary sockets to close');
  await backup.until(() => backup.openSockets === 0, 'backup sockets to close');
  await primary.close();
  await backup.close();
  await dir.remove();
});

interface StartOptions {
  primaryUrl?: string;
  withBackup?: boolean;
  breaker?: { failures: number; cooldownMs: number };
  keepAliveMs?: number;
  logger?: Logger;
  /** The router's clock: breaker cool-downs pass when the test moves it, not by waiting. */
  now?: () => number;
}

const METRICS_TOKEN = 'metrics-token-for-the-fault-tests';

async function start(options: StartOptions = {}): Promise<TestServer> {
  const channels: unknown[] = [
    {
      name: 'primary',
      kind: 'openai-compatible',
      baseUrl: options.primaryUrl ?? primary.baseUrl,
      apiKey: '${FAULT_KEY}',
      models: { 'kimi-k2.5': 'primary-model' },
      priority: 0,
      timeouts: TIMEOUTS,
    },
  ];
  if (options.withBackup !== false) {
    channels.push({ name: 'backup', kind: 'openai-compatible', baseUrl: backup.baseUrl, models: '*', priority: 1, timeouts: TIMEOUTS });
  }
  const file = join(dir.path, 'moongate.config.json');
  await writeFile(
    file,
    JSON.stringify({
      channels,
      routing: { maxAttempts: 3, budgetMs: 5000, backoffMs: 0, breaker: options.breaker ?? { failures: 3, cooldownMs: 60_000 } },
      keepAliveMs: options.keepAliveMs ?? 60_000,
    }),
  );
  moongate = await startTestServer({
    env: { MOONGATE_CONFIG: file, FAULT_KEY: KEY, METRICS_TOKEN },
    admitter,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  return moongate;
}

interface StreamRead {
  status: number;
  chunks: Record<string, unknown>[];
  content: string;
  /** The in-band error event, when there was one. */
  error: { code: string; message: string } | undefined;
  done: boolean;
  keepAlives: number;
  text: string;
}

async function readStream(res: Response): Promise<StreamRead> {
  const text = await res.text();
  const out: StreamRead = { status: res.status, chunks: [], content: '', error: undefined, done: false, keepAlives: 0, text };
  for (const block of text.split('\n\n')) {
    if (block === ': keep-alive') out.keepAlives++;
    if (!block.startsWith('data: ')) continue;
    const data = block.slice(6);
    if (data === '[DONE]') {
      out.done = true;
      continue;
    }
    const parsed = JSON.parse(data) as Record<string, unknown>;
    if (parsed.success === false) {
      out.error = (parsed as { error: { code: string; message: string } }).error;
      continue;
    }
    out.chunks.push(parsed);
    for (const choice of (parsed.choices as { delta: { content?: string } }[]) ?? []) out.content += choice.delta.content ?? '';
  }
  return out;
}

function chat(server: TestServer, stream = true): Promise<Response> {
  return server.chat({ model: 'kimi-k2.5', messages: MESSAGES, stream });
}

const REPORTED = makeUsage(PROMPT_TOKENS_REPORTED, 3);
/** What a client that got only the first word was sent: counted locally (the upstream reported nothing). */
const FIRST_WORD_ONLY = makeUsage(countPromptTokens(MESSAGES), countTextTokens('Hello'));

async function expectServedByBackup(server: TestServer): Promise<void> {
  const read = await readStream(await chat(server));
  expect(read.status).toBe(200);
  expect(read.error).toBeUndefined();
  expect(read.content).toBe('Hello from upstream');
  expect(read.done).toBe(true);
  expect(backup.requests).toEqual(['kimi-k2.5']);
  const [settlement] = await admitter.settled(1);
  expect(settlement?.result).toMatchObject({ outcome: 'completed', channel: 'backup', usage: REPORTED, error: null });
}

describe('faults before the first byte fail over to the next channel', () => {
  it('connection refused', async () => {
    await expectServedByBackup(await start({ primaryUrl: await FaultUpstream.refusingUrl() }));
    expect(primary.requests).toEqual([]);
  });

  it('500: the primary is asked once (under its upstream model name), the backup serves', async () => {
    primary.next({ kind: 'status', status: 500 });
    await expectServedByBackup(await start());
    expect(primary.requests).toEqual(['primary-model']);
  });

  it('500, non-stream: the JSON body comes from the backup', async () => {
    primary.next({ kind: 'status', status: 500 });
    const server = await start();
    const res = await chat(server, false);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { choices: { message: { content: string } }[]; usage: unknown };
    expect(body.choices[0]?.message.content).toBe('Hello from upstream');
    expect(body.usage).toEqual(REPORTED);
    expect((await admitter.settled(1))[0]?.result).toMatchObject({ outcome: 'completed', channel: 'backup', usage: REPORTED });
  });

  it('cut after the first chunk, non-stream: the client saw nothing yet, so the backup serves it, billed once', async () => {
    primary.next({ kind: 'cut' });
    const server = await start();
    const res = await chat(server, false);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { choices: { message: { content: string } }[]; usage: unknown };
    expect(body.choices[0]?.message.content).toBe('Hello from upstream');
    expect(primary.requests).toEqual(['primary-model']);
    expect(backup.requests).toEqual(['kimi-k2.5']);
    const settled = await admitter.settled(1);
    expect(settled).toHaveLength(1);
    expect(settled[0]?.result).toMatchObject({ outcome: 'completed', channel: 'backup', usage: REPORTED, stream: false });
  });

  it('429 with retry-after: the backup serves, and the primary is left alone for retry-after', async () => {
    primary.next({ kind: 'status', status: 429, retryAfter: 30 });
    const server = await start();
    await expectServedByBackup(server);
    const again = await readStream(await chat(server));
    expect(again.content).toBe('Hello from upstream');
    expect(primary.requests).toEqual(['primary-model']);
    expect(backup.requests).toHaveLength(2);
  });

  it('hang before the headers: the headers timeout moves the request on', async () => {
    primary.next({ kind: 'hang-headers' });
    await expectServedByBackup(await start());
    expect(primary.requests).toHaveLength(1);
  });

  it('malformed SSE as the first event', async () => {
    primary.next({ kind: 'malformed', at: 'first' });
    await expectServedByBackup(await start());
    expect(primary.requests).toHaveLength(1);
  });

  it('one byte per second from the start: no first token in time', async () => {
    primary.next({ kind: 'drip', dripMs: 1000, from: 'start' });
    await expectServedByBackup(await start());
    expect(primary.requests).toHaveLength(1);
  });
});

describe('faults after the first byte: in-band error, no failover, billed for what was sent', () => {
  async function expectInBand(fault: Fault, code: string, message: RegExp): Promise<void> {
    primary.next(fault);
    const read = await readStream(await chat(await start()));
    expect(read.status).toBe(200);
    expect(read.content).toBe('Hello');
    expect(read.error?.code).toBe(code);
    expect(read.error?.message).toMatch(message);
    expect(read.text).not.toContain(KEY);
    expect(read.done).toBe(true);
    // The error is the last event, right before [DONE].
    expect(read.text.trimEnd().split('\n\n').slice(-2)[0]).toContain('"success":false');
    expect(backup.requests).toEqual([]);
    const [settlement] = await admitter.settled(1);
    expect(settlement?.result).toMatchObject({ outcome: 'failed', channel: 'primary', usage: FIRST_WORD_ONLY });
    expect(settlement?.result.error?.code).toBe(code);
  }

  it('connection cut mid-stream', async () => {
    await expectInBand({ kind: 'cut' }, 'api_error', /closed the stream early/);
  });

  it('malformed SSE after the first chunk', async () => {
    await expectInBand({ kind: 'malformed', at: 'after-first' }, 'api_error', /malformed/);
  });

  it('one byte per second after the first chunk: the idle gap expires', async () => {
    await expectInBand({ kind: 'drip', dripMs: 1000, from: 'after-first' }, 'timeout', /silent/);
  });
});

describe('when every attempt fails, the client gets the HTTP status of the last failure', () => {
  it('429 from the only channel: 429 too_many_requests with its retry-after; not asked again meanwhile', async () => {
    primary.next({ kind: 'status', status: 429, retryAfter: 7 });
    const server = await start({ withBackup: false });
    const res = await chat(server);
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('7');
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('too_many_requests');
    const second = await chat(server);
    expect(second.status).toBe(429);
    await second.text();
    expect(primary.requests).toHaveLength(1);
    const settlements = await admitter.settled(2);
    expect(settlements.map((s) => s.result.usage)).toEqual([null, null]);
  });

  it('hang before the headers on the only channel: 504 timeout after maxAttempts tries', async () => {
    primary.fallback = { kind: 'hang-headers' };
    const res = await chat(await start({ withBackup: false }));
    expect(res.status).toBe(504);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('timeout');
    expect(primary.requests).toHaveLength(3);
    expect((await admitter.settled(1))[0]?.result).toMatchObject({ outcome: 'failed', usage: null, channel: null });
  });

  it('500 from the only channel: retried, then 500 api_error without the key', async () => {
    primary.fallback = { kind: 'status', status: 500 };
    const res = await chat(await start({ withBackup: false }), false);
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).not.toContain(KEY);
    expect((JSON.parse(text) as { error: { code: string } }).error.code).toBe('api_error');
    expect(primary.requests).toHaveLength(3);
  });
});

describe('circuit breaker', () => {
  it('opens after consecutive failures, skips the channel, half-opens after the cool-down and closes on success', async () => {
    primary.fallback = { kind: 'status', status: 500 };
    let clock = 0;
    const server = await start({ breaker: { failures: 2, cooldownMs: 400 }, now: () => clock });
    const state = (): string | undefined => server.server.router.snapshot().find((c) => c.name === 'primary')?.breaker;
    for (let i = 0; i < 2; i++) expect((await readStream(await chat(server))).content).toBe('Hello from upstream');
    expect(primary.requests).toHaveLength(2);
    expect(state()).toBe('open');
    const metrics = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
    expect(metrics).toContain('moongate_channel_breaker_state{channel="primary"} 2');

    // Open: the primary is not asked at all.
    await readStream(await chat(server));
    expect(primary.requests).toHaveLength(2);
    expect(backup.requests).toHaveLength(3);

    clock += 399;
    expect(state()).toBe('open');
    clock += 1;
    expect(state()).toBe('half-open');
    primary.fallback = { kind: 'ok' };
    const trial = await readStream(await chat(server));
    expect(trial.content).toBe('Hello from upstream');
    expect(primary.requests).toHaveLength(3);
    expect(state()).toBe('closed');
  });

  it('a failed trial opens it again for another cool-down', async () => {
    primary.fallback = { kind: 'status', status: 500 };
    let clock = 0;
    const server = await start({ breaker: { failures: 1, cooldownMs: 300 }, now: () => clock });
    const state = (): string | undefined => server.server.router.snapshot().find((c) => c.name === 'primary')?.breaker;
    await readStream(await chat(server));
    expect(state()).toBe('open');
    clock += 300;
    await readStream(await chat(server));
    expect(primary.requests).toHaveLength(2);
    expect(state()).toBe('open');
  });
});

describe('client disconnect', () => {
  it('aborts the upstream call and settles what was sent as aborted', async () => {
    primary.next({ kind: 'hang-after-first' });
    const server = await start();
    await new Promise<void>((resolve) => {
      const req = request(`${server.url}/kimi/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${server.token}` },
      });
      req.on('response', (res) => {
        let seen = '';
        res.setEncoding('utf8');
        res.on('data', (text: string) => {
          seen += text;
          if (seen.includes('Hello') && !req.destroyed) {
            req.destroy();
            resolve();
          }
        });
      });
      req.on('error', () => undefined);
      req.end(JSON.stringify({ model: 'kimi-k2.5', messages: MESSAGES, stream: true }));
    });
    // The upstream never ends this response by itself: only moongate's abort can cut it.
    await primary.until(() => primary.cuts === 1, 'the upstream call to be cut');
    const [settlement] = await admitter.settled(1);
    expect(settlement?.result).toMatchObject({ outcome: 'aborted', channel: 'primary', usage: FIRST_WORD_ONLY, error: null });
  });
});

describe('keep-alive comments', () => {
  it('commit the stream and keep it alive while the first token is slow, then deliver it all', async () => {
    primary.next({ kind: 'slow', delayMs: 700 });
    const read = await readStream(await chat(await start({ keepAliveMs: 150 })));
    expect(read.status).toBe(200);
    expect(read.keepAlives).toBeGreaterThanOrEqual(2);
    expect(read.text.startsWith(': keep-alive\n\n')).toBe(true);
    expect(read.content).toBe('Hello from upstream');
    expect(read.done).toBe(true);
  });

  it('still fail over after the stream was committed, as long as no data was sent', async () => {
    primary.next({ kind: 'hang-headers' });
    const read = await readStream(await chat(await start({ keepAliveMs: 150 })));
    expect(read.keepAlives).toBeGreaterThanOrEqual(1);
    expect(read.content).toBe('Hello from upstream');
    expect(read.error).toBeUndefined();
    expect(backup.requests).toHaveLength(1);
  });

  it('send a failure before the first chunk in-band once the stream was committed', async () => {
    primary.fallback = { kind: 'hang-headers' };
    const read = await readStream(await chat(await start({ keepAliveMs: 150, withBackup: false })));
    expect(read.status).toBe(200);
    expect(read.keepAlives).toBeGreaterThanOrEqual(1);
    expect(read.chunks).toEqual([]);
    expect(read.error?.code).toBe('timeout');
    expect(read.done).toBe(true);
  });
});

describe('metrics and health', () => {
  it('count requests by channel and status, attempts by result, and report readiness', async () => {
    primary.next({ kind: 'status', status: 500 });
    const server = await start();
    await readStream(await chat(server));
    const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toContain('moongate_upstream_attempts_total{channel="primary",result="api_error"} 1');
    expect(text).toContain('moongate_upstream_attempts_total{channel="backup",result="ok"} 1');
    expect(text).toContain('moongate_requests_total{model="kimi-k2.5",channel="backup",status="200",code="none",outcome="completed"} 1');
    expect(text).toContain('moongate_tokens_total{model="kimi-k2.5",channel="backup",kind="completion"} 3');
    expect(text).toMatch(/moongate_time_to_first_token_seconds_count\{model="kimi-k2\.5",channel="backup"\} 1/);
    expect(text).toContain('moongate_inflight_streams 0');
    expect(text).not.toContain(KEY);
    const ready = await fetch(`${server.url}/readyz`);
    expect({ status: ready.status, body: await ready.json() }).toEqual({ status: 200, body: { status: 'ready' } });
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('/readyz fails in the envelope when the store is gone', async () => {
    const server = await start();
    await server.server.store.close();
    const res = await fetch(`${server.url}/readyz`);
    expect(res.status).toBe(500);
    const body = (await res.json()) as { success: boolean; error: { code: string; message: string } };
    expect(body).toMatchObject({ success: false, error: { code: 'api_error', message: 'not ready: the store is unreachable' } });
  });
});

describe('logs', () => {
  it('say which channel failed for which trace id, before and after the first byte, and never hold the key', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== ''));
        done();
      },
    });
    primary.next({ kind: 'status', status: 500 }, { kind: 'cut' });
    const server = await start({ logger: pino({ level: 'trace', redact: LOG_REDACTIONS }, sink) });
    const failedOver = await chat(server);
    await failedOver.text();
    const cut = await chat(server);
    await cut.text();
    await admitter.settled(2);
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records.find((r) => r.msg === 'upstream attempt failed before the first byte')).toMatchObject({
      trace_id: failedOver.headers.get('x-trace-id'),
      channel: 'primary',
      code: 'api_error',
      attempt: 1,
    });
    expect(records.find((r) => r.msg === 'upstream failed mid-stream')).toMatchObject({
      trace_id: cut.headers.get('x-trace-id'),
      channel: 'primary',
    });
    expect(lines.join('\n')).not.toContain(KEY);
    expect(lines.join('\n')).not.toContain(server.token);
  });
});
