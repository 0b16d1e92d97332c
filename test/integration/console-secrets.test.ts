/**
 * Secrets of the console API (passwords, session ids, credential and playground tokens,
 * top-up codes) appear in no response but the one that issues them, and in no log line,
 * even at the trace level.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOG_REDACTIONS } from '../../src/http/app.js';
import { KIMI_SERVICE } from '../../src/store/seed-services.js';
import { ConsoleClient, type ConsoleResponse } from '../helpers/console-client.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const lines: string[] = [];
let moongate: TestServer;

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== ''));
      done();
    },
  });
  moongate = await startTestServer({ logger: pino({ level: 'trace', redact: LOG_REDACTIONS }, sink) });
});
afterAll(async () => {
  await moongate?.close();
});

describe('console secrets', () => {
  it('never leave in a later response or in the logs', async () => {
    const password = 'first secret password';
    const nextPassword = 'second secret password';
    const browser = new ConsoleClient(moongate.server.app);
    const responses: Array<{ label: string; res: ConsoleResponse }> = [];
    const record = async (label: string, pending: Promise<ConsoleResponse>): Promise<ConsoleResponse> => {
      const res = await pending;
      responses.push({ label, res });
      return res;
    };

    // The operator, registered through the one-time setup link (its token is a secret too).
    const setupToken = moongate.setupToken ?? '';
    await record('register', browser.register('secrets@example.com', password, setupToken));
    const firstSession = browser.cookie ?? '';
    await record('wrong login', new ConsoleClient(moongate.server.app).login('secrets@example.com', 'a wrong guess here'));
    const laptop = new ConsoleClient(moongate.server.app);
    await record('login', laptop.login('secrets@example.com', password));
    const secondSession = laptop.cookie ?? '';
    await record('session', browser.request('GET', '/api/session'));
    const acquired = await record('acquire', browser.request('POST', `/api/services/${KIMI_SERVICE.slug}/acquire`));
    const created = await record('create', browser.request('POST', '/api/credentials', { body: { name: 'ci' } }));
    await record('list', browser.request('GET', '/api/credentials'));
    await record('services', browser.request('GET', '/api/services'));
    const credentialId = (created.body as { credential: { id: string } }).credential.id;
    const played = await record('playground', browser.request('POST', `/api/credentials/${credentialId}/playground-token`));
    const playToken = (played.body as { token: string }).token;
    const chat = await fetch(`${moongate.url}/kimi/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${playToken}` },
      body: JSON.stringify({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 8 }),
    });
    expect(chat.status).toBe(200);
    await chat.text();
    // The first person registered here is the operator, who can make top-up codes.
    const made = await record('codes', browser.request('POST', '/api/admin/codes', { body: { amount: 1_000, count: 2 } }));
    const codes = (made.body as { codes: Array<{ code: string }> }).codes.map((c) => c.code);
    await record('redeem', browser.request('POST', '/api/balance/redeem', { body: { code: codes[0] } }));
    await record('code list', browser.request('GET', '/api/admin/codes'));
    await record('all credentials', browser.request('GET', '/api/admin/credentials'));
    await record('password', browser.request('POST', '/api/password', { body: { current: password, next: nextPassword } }));
    await record('bad password', browser.request('POST', '/api/password', { body: { current: password, next: 'short' } }));
    await record('logout', browser.request('POST', '/api/logout'));

    const tokens = [(acquired.body as { token: string }).token, (created.body as { token: string }).token, playToken, ...codes];
    expect(tokens.every((t) => typeof t === 'string' && (t.startsWith('mg-') || t.startsWith('MG-')))).toBe(true);
    expect(tokens).toHaveLength(5);
    const issuedBy: Record<string, string> = {
      [tokens[0] ?? '']: 'acquire',
      [tokens[1] ?? '']: 'create',
      [playToken]: 'playground',
      [codes[0] ?? '']: 'codes',
      [codes[1] ?? '']: 'codes',
    };
    const secrets = [password, nextPassword, firstSession, secondSession, setupToken, ...tokens];
    expect(secrets.every((s) => s.length >= 16)).toBe(true);

    for (const { label, res } of responses) {
      for (const secret of [password, nextPassword, firstSession, secondSession, setupToken]) {
        expect(res.text, label).not.toContain(secret);
        expect(res.text, label).not.toContain(secret.slice(4, 16));
      }
      for (const token of tokens) {
        if (issuedBy[token] !== label) expect(res.text, label).not.toContain(token.slice(10));
      }
    }

    const all = lines.join('\n');
    expect(lines.length).toBeGreaterThan(10);
    for (const secret of secrets) {
      expect(all).not.toContain(secret);
      expect(all).not.toContain(secret.slice(4, 16));
    }
    // Each request line still carries its trace id, the way the chat API's do.
    const traceIds = responses.map(({ res }) => res.headers.get('x-trace-id'));
    for (const id of traceIds) expect(lines.some((l) => (JSON.parse(l) as { trace_id?: string }).trace_id === id)).toBe(true);
  });
});
