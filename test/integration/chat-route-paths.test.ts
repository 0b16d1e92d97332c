/**
 * Which requests the chat route takes, now that it runs ahead of Fastify on the server's own
 * listener (src/http/routes/chat-completions-route.ts): a POST to either path, with or
 * without a query string, and nothing else; every other method on those paths, and every
 * other spelling of them, gets Fastify's answers in the envelope. And the route's own answers
 * keep what Fastify gave them: the trace id, nosniff, the content-type with its charset.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRACE_ID_PATTERN } from '../../src/contract/index.js';
import { rawRequest, rawSend } from '../../fuzz/src/raw-http.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

let moongate: TestServer;
const HELLO = { model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }] };

beforeAll(async () => {
  moongate = await startTestServer();
});
afterAll(async () => {
  await moongate?.close();
});

interface Envelope {
  success: boolean;
  error?: { code: string };
  trace_id?: string;
  choices?: unknown[];
}

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; headers: Headers; body: Envelope | undefined }> {
  const res = await fetch(`${moongate.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${moongate.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : (JSON.parse(text) as Envelope) };
}

describe('the chat route', () => {
  it.each(['/kimi/chat/completions', '/v1/chat/completions', '/kimi/chat/completions?trace=1', '/v1/chat/completions?'])(
    'answers a POST to %s',
    async (path) => {
      const answer = await call('POST', path, HELLO);
      expect(answer.status).toBe(200);
      expect(answer.body?.choices).toHaveLength(1);
      expect(answer.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
      expect(answer.headers.get('x-trace-id')).toMatch(TRACE_ID_PATTERN);
    },
  );

  it.each(['GET', 'PUT', 'DELETE', 'PATCH'])('leaves %s on its paths to Fastify: api_not_implemented', async (method) => {
    const answer = await call(method, '/kimi/chat/completions', method === 'GET' || method === 'DELETE' ? undefined : HELLO);
    expect(answer.status).toBe(400);
    expect(answer.body?.error?.code).toBe('api_not_implemented');
    expect(answer.headers.get('x-trace-id')).toBe(answer.body?.trace_id);
  });

  // Read as Fastify's router read it: an escaped letter is that letter, a fragment is dropped,
  // and an absolute-form target (what a proxy may send) is its path.
  it.each(['/kimi/chat/complet%69ons', '/v1/chat/%63ompletions?x=%zz', '/v1/chat/completions#part', 'http://moongate/v1/chat/completions', 'HTTP://moongate:80/kimi/chat/completions?a=1'])(
    'answers a POST to the spelling %s',
    async (target) => {
      const body = JSON.stringify(HELLO);
      const exchange = await rawSend({
        port: Number(new URL(moongate.url).port),
        chunks: [
          rawRequest(`POST ${target} HTTP/1.1`, ['Host: moongate', 'Connection: close', `Authorization: Bearer ${moongate.token}`, 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`], body),
        ],
      });
      expect(exchange.responses[0]?.status, exchange.responses[0]?.body).toBe(200);
    },
  );

  // A trailing slash, another case, a doubled slash or an escaped slash is another path, as under Fastify.
  it.each(['/kimi/chat/completions/', '/KIMI/chat/completions', '/kimi/chat/completion', '/kimi/chat%2Fcompletions', '//kimi/chat/completions'])(
    'does not take %s: no_api',
    async (path) => {
      const answer = await call('POST', path, HELLO);
      expect(answer.status).toBe(404);
      expect(answer.body?.error?.code).toBe('no_api');
      expect(answer.headers.get('x-trace-id')).toBe(answer.body?.trace_id);
    },
  );

  it('writes its errors in the envelope with the same trace id as the header', async () => {
    const answer = await call('POST', '/kimi/chat/completions', { model: 'no-such-model', messages: HELLO.messages });
    expect(answer.status).toBe(404);
    expect(answer.body?.error?.code).toBe('model_not_found');
    expect(answer.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(answer.headers.get('x-trace-id')).toBe(answer.body?.trace_id);
  });
});
