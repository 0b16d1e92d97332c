/**
 * Playground tokens (docs/console-api.md, "The playground"), on SQLite and on PostgreSQL:
 * minted by the console for one of the person's own credentials, accepted by the real chat
 * API (through the official `openai` client) as that credential, billed and logged on it,
 * and dead after a logout, a password change, the credential's revocation or 15 minutes.
 */
import { Writable } from 'node:stream';
import OpenAI from 'openai';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { authenticate } from '../../src/accounts/authenticate.js';
import type { Credential } from '../../src/accounts/credential-store.js';
import { CREDENTIAL_TOKEN_PATTERN, PLAYGROUND_TOKEN_PATTERN, hashCredentialToken } from '../../src/accounts/credential-token.js';
import { CredentialStore } from '../../src/accounts/credential-store.js';
import { PLAYGROUND_TOKENS_PER_SESSION, PLAYGROUND_TOKEN_TTL_MS } from '../../src/accounts/playground-token-store.js';
import { MoongateError } from '../../src/contract/errors.js';
import { LOG_REDACTIONS } from '../../src/http/app.js';
import { newId } from '../../src/store/new-id.js';
import { KIMI_SERVICE } from '../../src/store/seed-services.js';
import { CONSOLE_PASSWORD, ConsoleClient, expectError, uniqueEmail } from '../helpers/console-client.js';
import { describeEachDialect } from '../helpers/postgres.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

interface Minted {
  token: string;
  expiresAt: number;
  credentialId: string;
}

describeEachDialect((target) => {
  let moongate: TestServer;
  const lines: string[] = [];

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== ''));
        done();
      },
    });
    const location = target.location();
    moongate = await startTestServer({
      logger: pino({ level: 'trace', redact: LOG_REDACTIONS }, sink),
      env: { ...(location.databaseUrl === undefined ? {} : { DATABASE_URL: location.databaseUrl }), REGISTRATIONS_PER_HOUR: '1000' },
    });
  });
  afterAll(async () => {
    await moongate?.close();
  });

  /** A new person who has acquired the Kimi service: their browser and their first credential. */
  const personWithCredential = async () => {
    const person = await ConsoleClient.newPerson(moongate.server.app);
    const acquired = await person.browser.request<{ credential: Credential; token: string }>('POST', `/api/services/${KIMI_SERVICE.slug}/acquire`);
    expect(acquired.status, acquired.text).toBe(201);
    return { ...person, credential: acquired.body.credential };
  };
  const mint = (browser: ConsoleClient, credentialId: string) =>
    browser.request<Minted>('POST', `/api/credentials/${credentialId}/playground-token`);
  const mintOk = async (browser: ConsoleClient, credentialId: string): Promise<Minted> => {
    const res = await mint(browser, credentialId);
    expect(res.status, res.text).toBe(201);
    return res.body;
  };
  /** A chat call with the token, as the playground makes it: the error code, or 'ok'. */
  const chatCode = async (token: string): Promise<string> => {
    const res = await fetch(`${moongate.url}/kimi/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 16 }),
    });
    const body = (await res.json()) as { error?: { code: string } };
    return res.status === 200 ? 'ok' : (body.error?.code ?? `status ${res.status}`);
  };
  const authCode = (token: string, slug: string, now: number): Promise<string> =>
    authenticate(`Bearer ${token}`, slug, moongate.server.store, now).then(
      () => 'ok',
      (error: unknown) => (error instanceof MoongateError ? error.code : 'not a MoongateError'),
    );

  it('mints a 15-minute mg-play- token for an own credential, storing only its hash', async () => {
    const { browser, credential, id } = await personWithCredential();
    const before = Date.now();
    const minted = await mintOk(browser, credential.id);
    expect(minted.token).toMatch(PLAYGROUND_TOKEN_PATTERN);
    expect(minted.token).not.toMatch(CREDENTIAL_TOKEN_PATTERN);
    expect(minted.credentialId).toBe(credential.id);
    expect(minted.expiresAt).toBeGreaterThanOrEqual(before + PLAYGROUND_TOKEN_TTL_MS);
    expect(minted.expiresAt).toBeLessThanOrEqual(Date.now() + PLAYGROUND_TOKEN_TTL_MS);
    const rows = await moongate.server.store.db.selectFrom('playground_tokens').selectAll().where('person_id', '=', id).execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ token_hash: hashCredentialToken(minted.token), credential_id: credential.id, expires_at: minted.expiresAt });
    expect(JSON.stringify(rows)).not.toContain(minted.token);
  });

  it('works with the openai client on /kimi/chat/completions, stream and not, billed and logged on the credential', async () => {
    const { browser, credential } = await personWithCredential();
    const { token } = await mintOk(browser, credential.id);
    const quotaBefore = (await browser.request<{ quota: number }>('GET', '/api/balance')).body.quota;
    const openai = new OpenAI({ baseURL: `${moongate.url}/kimi`, apiKey: token, maxRetries: 0 });
    const completion = await openai.chat.completions.create({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 32 });
    expect(completion.object).toBe('chat.completion');
    expect(completion.usage?.prompt_tokens).toBe(9);
    const stream = await openai.chat.completions.create({
      model: 'kimi-k2.5',
      messages: [{ role: 'user', content: 'Hello' }],
      max_tokens: 32,
      stream: true,
    });
    let chunks = 0;
    for await (const chunk of stream) if (chunk.object === 'chat.completion.chunk') chunks++;
    expect(chunks).toBeGreaterThan(1);

    const usage = await browser.request<{ rows: Array<{ credentialId: string; stream: boolean; status: string; cost: number }> }>('GET', '/api/usage');
    expect(usage.body.rows.map((r) => [r.credentialId, r.stream, r.status])).toEqual([
      [credential.id, true, 'completed'],
      [credential.id, false, 'completed'],
    ]);
    expect(usage.body.rows.every((r) => r.cost > 0)).toBe(true);
    // Billed like any call on the credential: its application's quota went down by the cost.
    const spent = usage.body.rows.reduce((sum, r) => sum + r.cost, 0);
    const balance = await browser.request<{ quota: number; held: number }>('GET', '/api/balance');
    expect(balance.body).toMatchObject({ quota: quotaBefore - spent, held: 0 });
  });

  it('stops working after logout, and after a password change elsewhere', async () => {
    const { browser, credential, email } = await personWithCredential();
    const { token } = await mintOk(browser, credential.id);
    expect(await chatCode(token)).toBe('ok');
    expect((await browser.request('POST', '/api/logout')).status).toBe(204);
    expect(await chatCode(token)).toBe('invalid_token');
    // The logout deleted the token's row with its session.
    expect(await moongate.server.store.db.selectFrom('playground_tokens').select('token_hash').where('token_hash', '=', hashCredentialToken(token)).execute()).toEqual([]);

    const laptop = new ConsoleClient(moongate.server.app);
    expect((await laptop.login(email, CONSOLE_PASSWORD)).status).toBe(200);
    const fromLaptop = await mintOk(laptop, credential.id);
    const phone = new ConsoleClient(moongate.server.app);
    expect((await phone.login(email, CONSOLE_PASSWORD)).status).toBe(200);
    const fromPhone = await mintOk(phone, credential.id);
    expect((await phone.request('POST', '/api/password', { body: { current: CONSOLE_PASSWORD, next: 'a brand new password' } })).status).toBe(204);
    expect(await chatCode(fromLaptop.token)).toBe('invalid_token');
    // The session that changed the password lives on, and so does its token.
    expect(await chatCode(fromPhone.token)).toBe('ok');
  });

  it('stops working once the credential is revoked, and acts as a disabled credential would', async () => {
    const { browser, credential } = await personWithCredential();
    const second = await browser.request<{ credential: Credential }>('POST', '/api/credentials', { body: { name: 'second' } });
    const disabledToken = (await mintOk(browser, second.body.credential.id)).token;
    await new CredentialStore(moongate.server.store.db).setCredentialStatus(second.body.credential.id, 'disabled');
    expect(await chatCode(disabledToken)).toBe('disabled');

    const { token } = await mintOk(browser, credential.id);
    expect(await chatCode(token)).toBe('ok');
    expect((await browser.request('DELETE', `/api/credentials/${credential.id}`)).status).toBe(200);
    expect(await chatCode(token)).toBe('invalid_token');
    // A revoked credential gets no new token either.
    expectError(await mint(browser, credential.id), 404, 'no_api');
  });

  it('expires after 15 minutes, or with its session, whichever comes first', async () => {
    const { browser, credential } = await personWithCredential();
    const minted = await mintOk(browser, credential.id);
    const slug = KIMI_SERVICE.slug;
    expect(await authCode(minted.token, slug, minted.expiresAt - 1)).toBe('ok');
    expect(await authCode(minted.token, slug, minted.expiresAt)).toBe('token_expired');

    const db = moongate.server.store.db;
    const session = await db.selectFrom('playground_tokens').select('session_id').where('token_hash', '=', hashCredentialToken(minted.token)).executeTakeFirstOrThrow();
    const now = Date.now();
    await db.updateTable('sessions').set({ expires_at: now + 1000 }).where('id', '=', session.session_id).execute();
    expect(await authCode(minted.token, slug, now)).toBe('ok');
    expect(await authCode(minted.token, slug, now + 1000)).toBe('token_expired');
  });

  it('is refused on another service, like its service credential', async () => {
    const { browser, credential } = await personWithCredential();
    const { token } = await mintOk(browser, credential.id);
    const slug = `other-${Date.now()}`;
    await moongate.server.store.db
      .insertInto('services')
      .values({ id: newId('svc'), slug, name: 'Another service', status: 'active', created_at: Date.now() })
      .execute();
    expect(await authCode(token, slug, Date.now())).toBe('token_mismatched');
    expect(await authCode(token, KIMI_SERVICE.slug, Date.now())).toBe('ok');
    // A made-up token of the playground shape is simply unknown.
    expect(await authCode(`mg-play-${'A'.repeat(43)}`, KIMI_SERVICE.slug, Date.now())).toBe('invalid_token');
  });

  it("cannot be minted for another person's credential, nor for an unknown id: the same 404", async () => {
    const ada = await personWithCredential();
    const eve = await ConsoleClient.newPerson(moongate.server.app, uniqueEmail('eve'));
    const theirs = await mint(eve.browser, ada.credential.id);
    expectError(theirs, 404, 'no_api');
    const unknown = await mint(eve.browser, 'cred_000000000000000000000000');
    expectError(unknown, 404, 'no_api');
    expect(theirs.text.replace(ada.credential.id, 'X').replace(/"trace_id":"[^"]+"/, '')).toBe(
      unknown.text.replace('cred_000000000000000000000000', 'X').replace(/"trace_id":"[^"]+"/, ''),
    );
    expect(await moongate.server.store.db.selectFrom('playground_tokens').select('token_hash').where('person_id', '=', eve.id).execute()).toEqual([]);
    // Without a session or without the CSRF token, nothing is minted.
    expectError(await new ConsoleClient(moongate.server.app).request('POST', `/api/credentials/${ada.credential.id}/playground-token`), 401, 'invalid_token');
    expectError(await ada.browser.request('POST', `/api/credentials/${ada.credential.id}/playground-token`, { csrf: false }), 400, 'bad_request');
  });

  it('deletes expired tokens when minting', async () => {
    const { browser, credential, id } = await personWithCredential();
    const old = await mintOk(browser, credential.id);
    const db = moongate.server.store.db;
    await db.updateTable('playground_tokens').set({ expires_at: Date.now() - 1 }).where('token_hash', '=', hashCredentialToken(old.token)).execute();
    await mintOk(browser, credential.id);
    const rows = await db.selectFrom('playground_tokens').select('token_hash').where('person_id', '=', id).execute();
    expect(rows.map((r) => r.token_hash)).not.toContain(hashCredentialToken(old.token));
    expect(rows).toHaveLength(1);
  });

  it('keeps at most 10 live tokens per session: minting more ends the oldest, not other sessions\' tokens', async () => {
    const { browser, credential, email } = await personWithCredential();
    const laptop = new ConsoleClient(moongate.server.app);
    expect((await laptop.login(email, CONSOLE_PASSWORD)).status).toBe(200);
    const fromLaptop = await mintOk(laptop, credential.id);
    const minted: Minted[] = [];
    for (let i = 0; i < PLAYGROUND_TOKENS_PER_SESSION + 2; i++) minted.push(await mintOk(browser, credential.id));
    const newest = minted.at(-1)?.token ?? '';
    const db = moongate.server.store.db;
    const { session_id: sessionId } = await db
      .selectFrom('playground_tokens')
      .select('session_id')
      .where('token_hash', '=', hashCredentialToken(newest))
      .executeTakeFirstOrThrow();
    const live = await db.selectFrom('playground_tokens').select('token_hash').where('session_id', '=', sessionId).execute();
    expect(live).toHaveLength(PLAYGROUND_TOKENS_PER_SESSION);
    expect(await chatCode(newest)).toBe('ok');
    expect(await chatCode(minted[0]?.token ?? '')).toBe('invalid_token');
    expect(await chatCode(fromLaptop.token)).toBe('ok');
  });

  it('never appears in the logs', async () => {
    const { browser, credential } = await personWithCredential();
    const { token } = await mintOk(browser, credential.id);
    expect(await chatCode(token)).toBe('ok');
    await browser.request('POST', '/api/logout');
    expect(await chatCode(token)).toBe('invalid_token');
    const all = lines.join('\n');
    expect(lines.length).toBeGreaterThan(10);
    expect(all).not.toContain(token);
    expect(all).not.toContain(token.slice(8, 30));
  });
});
