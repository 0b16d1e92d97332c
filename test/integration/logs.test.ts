/**
 * Logs are JSON, carry the trace id, and never contain a token or an upstream key,
 * even at the most verbose level and when the upstream echoes the key back.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOG_REDACTIONS } from '../../src/http/app.js';
import { FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const OPERATOR_KEY = 'sk-operator-log-secret-42';
const lines: string[] = [];
/** Who waits for a line, by what it must match. */
const lineWaiters: Array<{ matches: (line: Record<string, unknown>) => boolean; resolve: (line: Record<string, unknown>) => void }> = [];
let moonshot: FakeUpstream;
let moongate: TestServer;

beforeAll(async () => {
  moonshot = await FakeUpstream.start();
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const written = chunk.toString('utf8').split('\n').filter((l) => l !== '');
      lines.push(...written);
      for (const text of written) {
        const line = JSON.parse(text) as Record<string, unknown>;
        for (const waiter of lineWaiters.filter((w) => w.matches(line))) {
          lineWaiters.splice(lineWaiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
      done();
    },
  });
  moongate = await startTestServer({
    env: { MOONSHOT_API_KEY: OPERATOR_KEY, MOONSHOT_BASE_URL: moonshot.baseUrl },
    logger: pino({ level: 'trace', redact: LOG_REDACTIONS }, sink),
  });
});
afterAll(async () => {
  await moongate?.close();
  await moonshot?.close();
});

describe('logs', () => {
  it('never contain the client token or the operator key', async () => {
    moonshot.reply({ status: 401, body: JSON.stringify({ error: { type: 'invalid_authentication_error', message: `bad key ${OPERATOR_KEY}` } }) });
    moonshot.reply({ status: 500, body: `upstream exploded with ${OPERATOR_KEY}` });
    const traceIds: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${moongate.url}/kimi/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${moongate.token}`, cookie: 'session=abc' },
        body: JSON.stringify({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }] }),
      });
      expect(res.status).toBe(500);
      traceIds.push(res.headers.get('x-trace-id') ?? '');
      await res.text();
    }
    const all = lines.join('\n');
    expect(lines.length).toBeGreaterThan(0);
    expect(all).not.toContain(moongate.token);
    expect(all).not.toContain(moongate.token.slice(3, 20));
    expect(all).not.toContain(OPERATOR_KEY);
    expect(all).not.toContain('session=abc');
    for (const line of lines) expect(() => JSON.parse(line) as unknown).not.toThrow();
    for (const id of traceIds) expect(lines.some((l) => (JSON.parse(l) as { trace_id?: string }).trace_id === id)).toBe(true);
  });

  it('write one access line per request, with the trace id, model, status, tokens and duration', async () => {
    moonshot.reply({
      body: JSON.stringify({
        id: 'cmpl-1',
        object: 'chat.completion',
        created: 1,
        model: 'kimi-k2.5',
        choices: [{ index: 0, message: { role: 'assistant', content: 'Hi!' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 },
      }),
    });
    const res = await fetch(`${moongate.url}/kimi/chat/completions?token=${moongate.token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${moongate.token}` },
      body: JSON.stringify({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }] }),
    });
    expect(res.status).toBe(200);
    await res.text();
    const traceId = res.headers.get('x-trace-id');
    const own = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.trace_id === traceId);
    // Fastify's own "incoming request" and "request completed" lines are off.
    expect(own.filter((l) => l.level === 30)).toEqual([
      expect.objectContaining({
        msg: 'request',
        method: 'POST',
        path: '/kimi/chat/completions',
        status: 200,
        model: 'kimi-k2.5',
        prompt_tokens: 9,
        completion_tokens: 3,
        duration_ms: expect.any(Number),
      }),
    ]);
    // The access line is written without the logger's redaction (http/access-log.ts): it may
    // carry these keys and no other, none of them a header, a body or a query string.
    expect(Object.keys(own.find((l) => l.msg === 'request') ?? {}).sort()).toEqual(
      ['completion_tokens', 'duration_ms', 'hostname', 'level', 'method', 'model', 'msg', 'path', 'pid', 'prompt_tokens', 'status', 'time', 'trace_id'],
    );
    expect(own.some((l) => l.msg === 'incoming request' || l.msg === 'request completed')).toBe(false);
    // The query string is never logged (a token put there by mistake stays out of the log).
    expect(lines.join('\n')).not.toContain(moongate.token);

    const refused = await fetch(`${moongate.url}/kimi/chat/completions`, { method: 'POST', body: '{}' });
    await refused.text();
    const line = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.trace_id === refused.headers.get('x-trace-id') && l.msg === 'request');
    expect(line).toMatchObject({ status: 400, code: 'no_token' });
    expect(line).not.toHaveProperty('model');

    // A Fastify route behind the same admission (the balance): its line carries the refusal's code too.
    const balance = await fetch(`${moongate.url}/kimi/users/me/balance`, { headers: { authorization: 'Bearer mg-not-a-token' } });
    expect(balance.status).toBe(401);
    await balance.text();
    const balanceLine = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.trace_id === balance.headers.get('x-trace-id') && l.msg === 'request');
    expect(balanceLine).toMatchObject({ method: 'GET', path: '/kimi/users/me/balance', status: 401, code: 'invalid_token' });
  });

  it('write the access line of a stream whose client left with the model and the tokens it was billed', async () => {
    // The role and "Hi there", then nothing: the request stays at the upstream until moongate lets it go.
    const chunk = (delta: Record<string, unknown>): string =>
      `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'kimi-k2.5', choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`;
    moonshot.stream(chunk({ role: 'assistant', content: 'Hi' }) + chunk({ content: ' there' }), { hang: true });
    const client = new AbortController();
    const res = await fetch(`${moongate.url}/kimi/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${moongate.token}` },
      body: JSON.stringify({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }], stream: true }),
      signal: client.signal,
    });
    expect(res.status).toBe(200);
    const traceId = res.headers.get('x-trace-id');
    const line = new Promise<Record<string, unknown>>((resolve) => lineWaiters.push({ matches: (l) => l.trace_id === traceId && l.msg === 'request', resolve }));
    await (res.body as ReadableStream<Uint8Array>).getReader().read();
    client.abort();
    // The upstream reported no usage: the prompt is counted (9) and so is what was generated.
    expect(await line).toMatchObject({ status: 200, aborted: true, model: 'kimi-k2.5', prompt_tokens: 9, completion_tokens: expect.any(Number) });
    expect((await line).completion_tokens).toBeGreaterThan(0);
    expect((await line).duration_ms).toEqual(expect.any(Number));
  });

  it('never contain a secret sent in a header, the body or the query string, whatever the answer', async () => {
    const secret = 'sk-client-secret-in-a-request-77';
    moonshot.reply({
      body: JSON.stringify({
        id: 'cmpl-2',
        object: 'chat.completion',
        created: 1,
        model: 'kimi-k2.5',
        choices: [{ index: 0, message: { role: 'assistant', content: 'Hi!' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 },
      }),
    });
    const answers: number[] = [];
    for (const authorization of [`Bearer ${moongate.token}`, `Bearer ${secret}`]) {
      const res = await fetch(`${moongate.url}/kimi/chat/completions?apiKey=${secret}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization, cookie: `session=${secret}`, 'x-api-key': secret },
        body: JSON.stringify({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }], apiKey: secret, password: secret }),
      });
      answers.push(res.status);
      await res.text();
    }
    // Both answered and logged: one served (unknown body fields go upstream), one refused.
    expect(answers).toEqual([200, 401]);
    expect(lines.filter((l) => (JSON.parse(l) as { msg?: string }).msg === 'request').length).toBeGreaterThanOrEqual(2);
    expect(lines.join('\n')).not.toContain(secret);
  });
});
