/**
 * Issue 15, items 8, 9 and 13: a client's malformed request is a 4xx in the envelope with a
 * trace id, never a 500 with a stack trace in the log, and never Fastify's own JSON. Requests
 * Node's parser rejects also carry `connection: close` and the connection ends, so a
 * keep-alive client knows to resend what followed. JSON answers carry `nosniff`, and
 * /metrics needs the operator's token. Raw sockets, because no HTTP client sends these.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRACE_ID_PATTERN } from '../../src/contract/index.js';
import { LOG_REDACTIONS } from '../../src/http/app.js';
import { rawRequest, rawSend, type RawResponse } from '../../fuzz/src/raw-http.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const METRICS_TOKEN = 'operator-metrics-token-0123456789';
let moongate: TestServer;
let port: number;
const logLines: { level: number; msg: string; err?: unknown }[] = [];

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') logLines.push(JSON.parse(line) as (typeof logLines)[number]);
      done();
    },
  });
  moongate = await startTestServer({ env: { METRICS_TOKEN }, logger: pino({ level: 'info', redact: LOG_REDACTIONS }, sink) });
  port = Number(new URL(moongate.url).port);
});
afterAll(async () => {
  await moongate?.close();
});

function expectEnvelope(response: RawResponse | undefined, status: number, code?: string): void {
  expect(response, 'an answer').toBeDefined();
  const { headers, body } = response as RawResponse;
  expect(response?.status, body).toBe(status);
  expect(headers['content-type']).toMatch(/^application\/json/);
  expect(headers['x-content-type-options']).toBe('nosniff');
  const envelope = JSON.parse(body) as { success: boolean; error: { code: string; message: string }; trace_id: string };
  expect(envelope.success).toBe(false);
  if (code !== undefined) expect(envelope.error.code).toBe(code);
  expect(envelope.trace_id).toMatch(TRACE_ID_PATTERN);
  expect(headers['x-trace-id']).toBe(envelope.trace_id);
}

async function one(requestLine: string, headers: string[] = [], body = ''): Promise<RawResponse | undefined> {
  const exchange = await rawSend({ port, chunks: [rawRequest(requestLine, ['Host: moongate', 'Connection: close', ...headers], body)] });
  expect(exchange.timedOut).toBe(false);
  return exchange.responses[0];
}

describe("a client's mistakes are 4xx envelopes (item 8)", () => {
  const chat = (contentType: string, authorization: string[] = [`Authorization: Bearer ${moongate.token}`]): Promise<RawResponse | undefined> =>
    one('POST /v1/chat/completions HTTP/1.1', [`Content-Type: ${contentType}`, 'Content-Length: 2', ...authorization], '{}');

  it.each(['a/b/c', ';', 'application/', '/json', 'a b/c'])('content-type %j', async (contentType) => {
    expectEnvelope(await chat(contentType), 400, 'bad_request');
    // Cheap checks first: without a credential the body's type is never looked at.
    expectEnvelope(await chat(contentType, []), 400, 'no_token');
  });

  it('a QUERY request (a method with a body) without a content-type', async () => {
    const response = await one('QUERY /v1/models HTTP/1.1');
    expectEnvelope(response, 400, 'api_not_implemented');
  });

  it.each(['/assets/../index.html', '/assets/%2e%2e/index.html', '/assets/%00', '/assets/a%00b.js', '/assets/.hidden'])(
    'static path %s',
    async (path) => {
      const response = await one(`GET ${path} HTTP/1.1`);
      expect(response?.status).toBeGreaterThanOrEqual(400);
      expect(response?.status).toBeLessThan(500);
      expectEnvelope(response, response?.status ?? 0);
    },
  );

  it('an HTTP/1.1 request without Host: the envelope, not Node\'s bare 400', async () => {
    const exchange = await rawSend({ port, chunks: [rawRequest('GET /healthz HTTP/1.1', [])], endAfterWrite: true });
    expectEnvelope(exchange.responses[0], 400, 'bad_request');
    expect(exchange.responses[0]?.headers.connection).toBe('close');
  });

  it('logs none of them as a failure', () => {
    expect(logLines.filter((line) => line.level >= 50)).toEqual([]);
  });
});

describe('requests the HTTP parser rejects (item 9)', () => {
  const broken: [string, Buffer][] = [
    ['an unknown method', rawRequest('FOO / HTTP/1.1', ['Host: x'])],
    ['a garbage request line', Buffer.from('\u0001\u0002 nonsense\r\n\r\n', 'latin1')],
    ['a header without a colon', rawRequest('GET /healthz HTTP/1.1', ['Host: x', 'no colon here'])],
    ['a bad chunk size', rawRequest('POST /v1/chat/completions HTTP/1.1', ['Host: x', 'Transfer-Encoding: chunked'], 'zz\r\n{}\r\n0\r\n\r\n')],
    ['content-length and chunked together', rawRequest('POST /v1/chat/completions HTTP/1.1', ['Host: x', 'Content-Length: 2', 'Transfer-Encoding: chunked'], '{}')],
    ['two content-lengths', rawRequest('POST /v1/chat/completions HTTP/1.1', ['Host: x', 'Content-Length: 2', 'Content-Length: 3'], '{}')],
    ['an unsupported HTTP version', rawRequest('GET /healthz HTTP/7.0', ['Host: x'])],
  ];

  it.each(broken)('%s: the envelope, connection: close, and the connection ends', async (_name, bytes) => {
    const exchange = await rawSend({ port, chunks: [bytes] });
    expect(exchange.timedOut).toBe(false);
    expect(exchange.closedByServer).toBe(true);
    expectEnvelope(exchange.responses[0], 400, 'bad_request');
    expect(exchange.responses[0]?.headers.connection).toBe('close');
  });

  it('headers larger than the server accepts: too_large, connection: close', async () => {
    const exchange = await rawSend({ port, chunks: [rawRequest('GET /healthz HTTP/1.1', ['Host: x', `X-Big: ${'a'.repeat(64 * 1024)}`])] });
    expect(exchange.timedOut).toBe(false);
    expectEnvelope(exchange.responses[0], 413, 'too_large');
    expect(exchange.responses[0]?.headers.connection).toBe('close');
  });

  it('on a keep-alive connection, the requests before a broken one are answered, then the broken one, then the connection closes', async () => {
    const good = rawRequest('GET /healthz HTTP/1.1', ['Host: x']);
    const exchange = await rawSend({ port, chunks: [Buffer.concat([good, good, rawRequest('GET /healthz HTTP/1.1', ['Host: x', 'bad header'])])] });
    expect(exchange.timedOut).toBe(false);
    expect(exchange.responses.map((r) => r.status)).toEqual([200, 200, 400]);
    expectEnvelope(exchange.responses[2], 400, 'bad_request');
    expect(exchange.responses[2]?.headers.connection).toBe('close');
    expect(exchange.closedByServer).toBe(true);
  });
});

describe('a keep-alive client refused before its body was read', () => {
  it('keeps its connection when the body is small: the requests pipelined after it are answered', async () => {
    const body = JSON.stringify({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }] });
    const refused = rawRequest('POST /kimi/chat/completions HTTP/1.1', ['Host: x', 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`, 'Authorization: Bearer sk-not-a-token'], body);
    const next = rawRequest('GET /healthz HTTP/1.1', ['Host: x']);
    const exchange = await rawSend({ port, chunks: [Buffer.concat([refused, next])], expectResponses: 2 });
    expect(exchange.timedOut).toBe(false);
    expect(exchange.responses.map((r) => `${r.status} ${r.body}`)).toEqual([expect.stringMatching(/^401/), expect.stringMatching(/^200/)]);
    expectEnvelope(exchange.responses[0], 401, 'invalid_token');
    expect(exchange.responses[0]?.headers.connection).not.toBe('close');
  });

  it('keeps it after a body read whole that is not a request: the requests pipelined after it are answered, in order', async () => {
    // Before 2026-12-06 the refusal closed the connection (as Fastify does after its parser
    // refuses a body), and closing with the pipelined bytes unread reset it: under load the
    // client could lose every answer, the refusal's included (the fuzzer's case 7879 of seed 15).
    const bodies = ['', '{"model":', 'null', '{"model":"kimi-k2.5","messages":"x"}'];
    const requests = bodies.map((body) =>
      rawRequest('POST /v1/chat/completions HTTP/1.1', ['Host: x', 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`, `Authorization: Bearer ${moongate.token}`], body),
    );
    const next = rawRequest('GET /healthz HTTP/1.1', ['Host: x']);
    const exchange = await rawSend({ port, chunks: [Buffer.concat([...requests, next])], expectResponses: bodies.length + 1 });
    expect(exchange.timedOut).toBe(false);
    expect(exchange.responses.map((r) => r.status)).toEqual([400, 400, 400, 400, 200]);
    for (const response of exchange.responses.slice(0, bodies.length)) {
      expectEnvelope(response, 400, 'bad_request');
      expect(response.headers.connection).not.toBe('close');
    }
  });

  it('closes it when the declared body is large, without reading it', async () => {
    const refused = rawRequest('POST /kimi/chat/completions HTTP/1.1', ['Host: x', 'Content-Type: application/json', 'Content-Length: 16000000'], '');
    const exchange = await rawSend({ port, chunks: [refused] });
    expect(exchange.timedOut).toBe(false);
    expectEnvelope(exchange.responses[0], 400, 'no_token');
    expect(exchange.responses[0]?.headers.connection).toBe('close');
    expect(exchange.closedByServer).toBe(true);
  });
});

describe('nosniff and /metrics (item 13)', () => {
  it('JSON answers carry x-content-type-options: nosniff, success and error alike', async () => {
    const models = await fetch(`${moongate.url}/v1/models`);
    expect(models.headers.get('x-content-type-options')).toBe('nosniff');
    const missing = await fetch(`${moongate.url}/nowhere`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('x-content-type-options')).toBe('nosniff');
    const completion = await moongate.chat({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }] });
    expect(completion.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('/metrics without the operator token is refused; with it, served', async () => {
    expectEnvelope(await one('GET /metrics HTTP/1.1'), 400, 'no_token');
    expectEnvelope(await one('GET /metrics HTTP/1.1', [`Authorization: Bearer ${moongate.token}`]), 401, 'invalid_token');
    expectEnvelope(await one('GET /metrics HTTP/1.1', [`Authorization: Bearer ${METRICS_TOKEN}x`]), 401, 'invalid_token');
    const served = await fetch(`${moongate.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(served.status).toBe(200);
    expect(await served.text()).toContain('moongate_');
  });

  it('/metrics is off (404) when no METRICS_TOKEN is set', async () => {
    const plain = await startTestServer();
    try {
      const res = await fetch(`${plain.url}/metrics`);
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('no_api');
    } finally {
      await plain.close();
    }
  });
});
