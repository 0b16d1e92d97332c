/**
 * Draining in-process (server.shutdown): a request that arrives during the drain gets the
 * envelope with connection: close, a stream past the drain limit is aborted and settled
 * once as aborted with what its client was sent, and /readyz fails while draining.
 */
import { request } from 'node:http';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { makeUsage } from '../../src/contract/index.js';
import { ChatGateway } from '../../src/gateway/chat-gateway.js';
import { buildApp } from '../../src/http/app.js';
import { InFlightRequests } from '../../src/http/in-flight-requests.js';
import { countPromptTokens, countTextTokens } from '../../src/tokens/count-tokens.js';
import { RecordingAdmitter } from '../helpers/recording-admitter.js';
import { ScriptedProvider } from '../helpers/scripted-provider.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

let moongate: TestServer | undefined;
afterEach(async () => {
  await moongate?.close().catch(() => undefined);
  moongate = undefined;
});

const MESSAGES = [{ role: 'user', content: 'Hello' }];

/** Opens a stream; resolves once its first data arrived, with a promise of the whole text. */
function openStream(server: TestServer): Promise<{ rest: Promise<string> }> {
  return new Promise((resolveOpen) => {
    const req = request(`${server.url}/kimi/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${server.token}` },
    });
    let text = '';
    let resolveRest: (text: string) => void = () => undefined;
    const rest = new Promise<string>((resolve) => (resolveRest = resolve));
    req.on('response', (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const first = text === '';
        text += chunk;
        if (first) resolveOpen({ rest });
      });
      res.on('close', () => resolveRest(text));
    });
    req.on('error', () => resolveRest(text));
    req.end(JSON.stringify({ model: 'kimi-k2.5', messages: MESSAGES, stream: true }));
  });
}

describe('drain', () => {
  it('turns requests that arrive while draining away in the envelope, with connection: close', async () => {
    const inFlight = new InFlightRequests();
    const gateway = new ChatGateway({
      authenticate: () => Promise.reject(new Error('not reached')),
      router: { open: () => Promise.reject(new Error('not reached')) },
    });
    // What the app logs: a request turned away while draining is no failure of ours.
    const levels: number[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line !== '') levels.push((JSON.parse(line) as { level: number }).level);
        done();
      },
    });
    const app = buildApp({ gateway, maxBodyBytes: 1024, logger: pino({ level: 'info' }, sink), inFlight });
    try {
      expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
      inFlight.draining = true;
      // A real connection: the chat route runs on the server's listener, ahead of Fastify's inject().
      const origin = await app.listen({ port: 0, host: '127.0.0.1' });
      const turnedAway = await fetch(`${origin}/kimi/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer never-checked' },
        body: JSON.stringify({ model: 'kimi-k2.5', messages: MESSAGES }),
      });
      expect(turnedAway.status).toBe(500);
      expect(turnedAway.headers.get('connection')).toBe('close');
      expect(await turnedAway.json()).toMatchObject({ success: false, error: { code: 'api_error', message: 'the server is shutting down' } });
      expect(turnedAway.headers.get('x-trace-id')).toBeTypeOf('string');
      // Its access line (info), and no error line with a stack for every request during a redeploy.
      expect(levels).toContain(30);
      expect(levels.filter((level) => level >= 40)).toEqual([]);
      expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(500);
      expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('aborts a stream still running at the drain limit and settles it once as aborted, billed for what was sent', async () => {
    const provider = new ScriptedProvider([
      { type: 'delta', index: 0, content: 'Hello' },
      { type: 'wait', ms: 60_000 },
      { type: 'finish', index: 0, reason: 'stop' },
    ]);
    const admitter = new RecordingAdmitter();
    moongate = await startTestServer({ provider, admitter });
    const server = moongate.server;
    const { rest } = await openStream(moongate);

    const stopping = server.shutdown(300);
    await stopping;
    const text = await rest;
    expect(text).toContain('Hello');
    expect(text).not.toContain('[DONE]');
    expect(provider.aborted).toHaveLength(1);
    expect(admitter.open).toBe(0);
    expect(admitter.settlements).toHaveLength(1);
    expect(admitter.settlements[0]?.result).toMatchObject({
      outcome: 'aborted',
      usage: makeUsage(countPromptTokens([{ role: 'user', content: 'Hello' }]), countTextTokens('Hello')),
    });
    moongate = undefined;
  });

  it('waits for a stream that ends within the limit', async () => {
    const provider = new ScriptedProvider([
      { type: 'delta', index: 0, content: 'Hello' },
      { type: 'wait', ms: 300 },
      { type: 'finish', index: 0, reason: 'stop' },
    ]);
    const admitter = new RecordingAdmitter();
    moongate = await startTestServer({ provider, admitter });
    const { rest } = await openStream(moongate);
    await moongate.server.shutdown(10_000);
    expect((await rest).trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(provider.aborted).toHaveLength(0);
    expect(admitter.settlements.map((s) => s.result.outcome)).toEqual(['completed']);
    moongate = undefined;
  });
});
