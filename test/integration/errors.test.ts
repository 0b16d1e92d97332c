/**
 * Every error leaves in SPEC.md's envelope, with the right status and code, and the
 * trace id in both the body and the x-trace-id header.
 */
import { request, type IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KIMI_MODEL_IDS, MoongateError, TRACE_ID_PATTERN, type ErrorCode } from '../../src/contract/index.js';
import { decodeSse } from '../../src/sse/index.js';
import { ScriptedProvider } from '../helpers/scripted-provider.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

let moongate: TestServer;

beforeAll(async () => {
  moongate = await startTestServer({ env: { MAX_BODY_BYTES: String(64 * 1024) } });
});
afterAll(async () => {
  await moongate?.close();
});

const hello = { model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }] };

interface Envelope {
  success: boolean;
  error: { code: ErrorCode; message: string };
  trace_id: string;
}

async function expectError(res: Response, status: number, code: ErrorCode): Promise<Envelope> {
  const body = (await res.json()) as Envelope;
  expect({ status: res.status, code: body.error?.code }).toEqual({ status, code });
  expect(body.success).toBe(false);
  expect(body.trace_id).toMatch(TRACE_ID_PATTERN);
  expect(res.headers.get('x-trace-id')).toBe(body.trace_id);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return body;
}

function post(path: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${moongate.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${moongate.token}`, ...headers },
    body,
  });
}

describe('errors', () => {
  it('unknown path: 404 no_api', async () => {
    await expectError(await fetch(`${moongate.url}/kimi/nothing-here`), 404, 'no_api');
  });

  it('known path, wrong method: 400 api_not_implemented', async () => {
    await expectError(await fetch(`${moongate.url}/kimi/chat/completions`), 400, 'api_not_implemented');
  });

  it('no authorization header: 400 no_token', async () => {
    const res = await fetch(`${moongate.url}/kimi/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(hello),
    });
    await expectError(res, 400, 'no_token');
  });

  it('unknown token: 401 invalid_token with the published message', async () => {
    const body = await expectError(await post('/kimi/chat/completions', JSON.stringify(hello), { authorization: 'Bearer mg-nope' }), 401, 'invalid_token');
    expect(body.error.message).toBe('The specified token is invalid or wrong.');
  });

  it('body that is not JSON: 400 bad_request', async () => {
    const body = await expectError(await post('/kimi/chat/completions', '{"model": '), 400, 'bad_request');
    expect(body.error.message).toMatch(/not valid JSON/);
  });

  it('JSON sent as form data (curl -d without a content-type) still works', async () => {
    const res = await post('/kimi/chat/completions', JSON.stringify(hello), { 'content-type': 'application/x-www-form-urlencoded' });
    expect(res.status).toBe(200);
  });

  it('a field out of range: 400 bad_request naming the field', async () => {
    const body = await expectError(
      await post('/kimi/chat/completions', JSON.stringify({ ...hello, messages: [{ role: 'robot', content: 'x' }] })),
      400,
      'bad_request',
    );
    expect(body.error.message).toBe('messages[0].role must be one of system, user, assistant, tool');
  });

  it('unknown model: 404 model_not_found listing the models', async () => {
    const body = await expectError(await post('/v1/chat/completions', JSON.stringify({ ...hello, model: 'gpt-4o' })), 404, 'model_not_found');
    for (const id of KIMI_MODEL_IDS) expect(body.error.message).toContain(id);
  });

  it('body over MAX_BODY_BYTES: 413 too_large', async () => {
    const big = JSON.stringify({ ...hello, messages: [{ role: 'user', content: 'x'.repeat(70 * 1024) }] });
    await expectError(await post('/kimi/chat/completions', big), 413, 'too_large');
  });

  it('the default body limit fits a full 262,144-token context', async () => {
    const server = await startTestServer();
    try {
      // "hello " is one o200k token: 262,100 of them is a full context, about 1.5 MB of JSON.
      const content = 'hello '.repeat(262_100);
      const res = await server.chat({ ...hello, messages: [{ role: 'user', content }], max_tokens: 100 });
      const body = (await res.json()) as Envelope;
      // Not too_large: the body was read, and the context check (not the size limit) answered.
      expect(res.status).toBe(400);
      expect(body.error.message).toMatch(/exceeds kimi-k2\.5's context of 262144 tokens/);
    } finally {
      await server.close();
    }
  });

  it('a prompt of one 10-million-character word (a pasted blob) is too long for the context, not a server error', async () => {
    const server = await startTestServer();
    try {
      const res = await server.chat({ ...hello, messages: [{ role: 'user', content: 'Q'.repeat(10_000_000) }] });
      const body = await expectError(res, 400, 'bad_request');
      expect(body.error.message).toMatch(/exceeds kimi-k2\.5's context of 262144 tokens/);
    } finally {
      await server.close();
    }
  });

  it('max_tokens beyond the context: 400 bad_request', async () => {
    const body = await expectError(
      await post('/kimi/chat/completions', JSON.stringify({ ...hello, model: 'kimi-k2-0711-preview', max_tokens: 200_000 })),
      400,
      'bad_request',
    );
    expect(body.error.message).toMatch(/max_tokens must be <= 131072/);
  });

  it('x-trace-id is on successful responses too, and differs per request', async () => {
    const a = await fetch(`${moongate.url}/v1/models`);
    const b = await fetch(`${moongate.url}/healthz`);
    expect(a.headers.get('x-trace-id')).toMatch(TRACE_ID_PATTERN);
    expect(b.headers.get('x-trace-id')).toMatch(TRACE_ID_PATTERN);
    expect(a.headers.get('x-trace-id')).not.toBe(b.headers.get('x-trace-id'));
  });

  it('a malformed URL: 400 bad_request in the envelope', async () => {
    const { status, headers, body } = await new Promise<{ status: number; headers: IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const req = request(`${moongate.url}/kimi/%zz`, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      });
      req.on('error', reject);
      req.end();
    });
    const envelope = JSON.parse(body) as Envelope;
    expect({ status, code: envelope.error.code }).toEqual({ status: 400, code: 'bad_request' });
    expect(headers['x-trace-id']).toBe(envelope.trace_id);
    expect(envelope.trace_id).toMatch(TRACE_ID_PATTERN);
  });

  it('a client cannot choose the trace id', async () => {
    const res = await fetch(`${moongate.url}/healthz`, { headers: { 'request-id': 'mine', 'x-trace-id': 'mine' } });
    expect(res.headers.get('x-trace-id')).toMatch(TRACE_ID_PATTERN);
  });

  it('lists the 7 models in order on both model paths', async () => {
    for (const path of ['/v1/models', '/kimi/models']) {
      const body = (await (await fetch(`${moongate.url}${path}`)).json()) as { object: string; data: { id: string }[] };
      expect(body.object).toBe('list');
      expect(body.data.map((m) => m.id)).toEqual(KIMI_MODEL_IDS);
    }
  });
});

describe('upstream failures', () => {
  it('a choice nobody asked for is an upstream fault, not a response', async () => {
    for (const stream of [false, true]) {
      const server = await startTestServer({
        provider: new ScriptedProvider([{ type: 'delta', index: 200_000_000, content: 'x' }]),
      });
      try {
        const res = await server.chat({ ...hello, stream });
        const body = await expectError(res, 500, 'api_error');
        expect(body.error.message).toBe('the upstream sent choice 200000000, but 1 was asked for');
      } finally {
        await server.close();
      }
    }
  });

  it('an upstream that ignores n gets the same choices in stream and non-stream', async () => {
    const script = [
      { type: 'delta', index: 0, content: 'only one' },
      { type: 'finish', index: 0, reason: 'stop' },
    ] as const;
    const server = await startTestServer({ provider: new ScriptedProvider([...script]) });
    try {
      const post = (stream: boolean): Promise<Response> =>
        server.chat({ ...hello, n: 3, stream });
      const json = (await (await post(false)).json()) as { choices: { index: number }[] };
      expect(json.choices.map((c) => c.index)).toEqual([0]);
      const indexes = new Set<number>();
      for await (const e of decodeSse((await post(true)).body as AsyncIterable<Uint8Array>)) {
        if (e.data === '[DONE]') break;
        for (const c of (JSON.parse(e.data) as { choices: { index: number }[] }).choices) indexes.add(c.index);
      }
      expect([...indexes]).toEqual([0]);
    } finally {
      await server.close();
    }
  });

  it('before the first byte: a proper HTTP error, never the internal message', async () => {
    const provider = new ScriptedProvider([{ type: 'throw', error: new Error('connect ECONNREFUSED 10.0.0.1:443 key=sk-secret') }]);
    const server = await startTestServer({ provider });
    try {
      const res = await server.chat({ ...hello, stream: true });
      const text = await res.clone().text();
      expect(text).not.toContain('sk-secret');
      expect(text).not.toContain('ECONNREFUSED');
      const body = await expectError(res, 500, 'api_error');
      expect(body.error.message).toBe('Internal server error.');
    } finally {
      await server.close();
    }
  });

  it('after the stream started: an in-band error event, then [DONE]', async () => {
    const provider = new ScriptedProvider([
      { type: 'delta', index: 0, content: 'Hel' },
      { type: 'throw', error: new MoongateError('timeout', 'The upstream went silent.') },
    ]);
    const server = await startTestServer({ provider });
    try {
      const res = await server.chat({ ...hello, stream: true });
      expect(res.status).toBe(200);
      const events: string[] = [];
      for await (const e of decodeSse(res.body as AsyncIterable<Uint8Array>)) events.push(e.data);
      expect(events.at(-1)).toBe('[DONE]');
      const last = JSON.parse(events.at(-2) ?? '') as Envelope;
      expect(last).toEqual({
        success: false,
        error: { code: 'timeout', message: 'The upstream went silent.' },
        trace_id: res.headers.get('x-trace-id'),
      });
      expect(events.some((e) => e.includes('"content":"Hel"'))).toBe(true);
    } finally {
      await server.close();
    }
  });
});
