/**
 * The console API (/api/) against a real moongate on port 0, on SQLite and on PostgreSQL:
 * registration and the first admin, login and logout, session expiry, the login throttle,
 * CSRF, password changes, Acquire, credentials, and isolation between people.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREDENTIAL_TOKEN_PATTERN } from '../../src/accounts/credential-token.js';
import type { Credential } from '../../src/accounts/credential-store.js';
import { hashSessionId } from '../../src/accounts/session-store.js';
import { KIMI_SERVICE } from '../../src/store/seed-services.js';
import { CONSOLE_PASSWORD, ConsoleClient, expectError, uniqueEmail, type ConsoleResponse } from '../helpers/console-client.js';
import { describeEachDialect } from '../helpers/postgres.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const PASSWORD = CONSOLE_PASSWORD;

describeEachDialect((target) => {
  let moongate: TestServer;
  const client = (): ConsoleClient => new ConsoleClient(moongate.server.app);
  const chatWith = (token: string): Promise<Response> =>
    fetch(`${moongate.url}/kimi/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 16 }),
    });
  /** A person registered and logged in, in their own browser. */
  const newPerson = (): Promise<{ browser: ConsoleClient; email: string; id: string }> => ConsoleClient.newPerson(moongate.server.app);

  beforeAll(async () => {
    // A database nobody used ("the first person registered is the admin"): startTestServer makes
    // a fresh SQLite dir, and on PostgreSQL this file's schema is new.
    const location = target.location();
    moongate = await startTestServer({
      env: {
        ...(location.databaseUrl === undefined ? {} : { DATABASE_URL: location.databaseUrl }),
        MOONGATE_FREE_QUOTA: '1.5',
        MOONGATE_CURRENCY: 'EUR',
        // Every test registers its own people from 127.0.0.1; the limit has its own test below.
        REGISTRATIONS_PER_HOUR: '1000',
      },
    });
  });
  afterAll(async () => {
    await moongate?.close();
  });

  describe('registration', () => {
    // startTestServer already made ada@example.com through the CLI path (no password, not an admin).
    it('makes a plain registration a user even on a fresh install, the one through the setup link the admin, and the link works once', async () => {
      const plain = await client().register(uniqueEmail(), PASSWORD);
      expect(plain.status, plain.text).toBe(201);
      expect(plain.body.person.role).toBe('user');
      expect(moongate.setupToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expectError(await client().register(uniqueEmail(), PASSWORD, 'A'.repeat(43)), 400, 'bad_request');
      const first = client();
      const res = await first.register(uniqueEmail(), PASSWORD, moongate.setupToken);
      expect(res.status, res.text).toBe(201);
      expect(res.body.person.role).toBe('admin');
      expect(res.body.csrfToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const again = await client().register(uniqueEmail(), PASSWORD, moongate.setupToken);
      expectError(again, 400, 'bad_request');
      expect(again.text).toMatch(/setup link/);
      expect(again.text).not.toContain(moongate.setupToken);
      const second = await client().register(uniqueEmail(), PASSWORD);
      expect(second.status).toBe(201);
      expect(second.body.person.role).toBe('user');
    });

    it('sets an HttpOnly, SameSite=Lax, Path=/ session cookie with the session TTL, not Secure over http', async () => {
      const res = await client().register(uniqueEmail(), PASSWORD);
      expect(res.setCookies).toHaveLength(1);
      const cookie = res.setCookies[0] ?? '';
      expect(cookie).toMatch(/^moongate_session=[A-Za-z0-9_-]{43};/);
      const attributes = cookie.split(';').slice(1).map((a) => a.trim().toLowerCase());
      expect(attributes).toEqual(expect.arrayContaining(['httponly', 'samesite=lax', 'path=/', `max-age=${30 * 86_400}`]));
      expect(attributes).not.toContain('secure');
      expect(res.headers.get('cache-control')).toBe('no-store');
    });

    it('behind a trusted https proxy: a Secure cookie, and registrations limited per forwarded address', async () => {
      const proxied = await startTestServer({ env: { TRUST_PROXY: 'true', SESSION_TTL_DAYS: '2', REGISTRATIONS_PER_HOUR: '2' } });
      try {
        const browser = new ConsoleClient(proxied.server.app);
        const res = await browser.request('POST', '/api/register', {
          body: { email: uniqueEmail(), password: PASSWORD },
          headers: { 'x-forwarded-proto': 'https' },
        });
        expect(res.status, res.text).toBe(201);
        const attributes = (res.setCookies[0] ?? '').split(';').map((a) => a.trim().toLowerCase());
        expect(attributes).toEqual(expect.arrayContaining(['secure', 'httponly', `max-age=${2 * 86_400}`]));

        // REGISTRATIONS_PER_HOUR=2, counted per client address (X-Forwarded-For, trusted here).
        const from = (address: string) => ({ 'x-forwarded-for': address });
        const register = (address: string) =>
          new ConsoleClient(proxied.server.app).request('POST', '/api/register', { body: { email: uniqueEmail(), password: PASSWORD }, headers: from(address) });
        expect((await register('198.51.100.7')).status).toBe(201);
        expect((await register('198.51.100.7')).status).toBe(201);
        const third = await register('198.51.100.7');
        expectError(third, 429, 'too_many_requests');
        expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(3500);
        expect((await register('198.51.100.8')).status).toBe(201);
      } finally {
        await proxied.close();
      }
    });

    it('refuses a taken email (whatever its case), a CLI-made email, a bad email and a short password, naming the field', async () => {
      const email = uniqueEmail();
      expect((await client().register(email, PASSWORD)).status).toBe(201);
      const again = await client().register(email.toUpperCase(), 'another password');
      expectError(again, 400, 'bad_request');
      expect(again.body).toMatchObject({ error: { message: expect.stringMatching(/email/) } });
      expectError(await client().register('ada@example.com', PASSWORD), 400, 'bad_request');
      const badEmail = await client().register('not an email', PASSWORD);
      expectError(badEmail, 400, 'bad_request');
      expect(badEmail.text).toMatch(/email/);
      const short = await client().register(uniqueEmail(), 'short');
      expectError(short, 400, 'bad_request');
      expect(short.text).toMatch(/password/);
      const missing = await client().request('POST', '/api/register', { body: { email: uniqueEmail() } });
      expectError(missing, 400, 'bad_request');
      expect(missing.text).toMatch(/password/);
    });
  });

  describe('sessions', () => {
    it('GET /api/session names the person and the CSRF token; without a cookie it is 401 "Log in first."', async () => {
      const { browser, email, id } = await newPerson();
      const res = await browser.request('GET', '/api/session');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ person: { id, email, role: expect.stringMatching(/^(user|admin)$/) }, csrfToken: browser.csrfToken });
      const anonymous = await client().request('GET', '/api/session');
      expectError(anonymous, 401, 'invalid_token');
      expect(anonymous.body).toMatchObject({ error: { message: 'Log in first.' } });
      const forged = client();
      forged.cookie = randomBytes(32).toString('base64url');
      expectError(await forged.request('GET', '/api/session'), 401, 'invalid_token');
      // The console's page-load check: nobody is a 200, somebody is the same answer as above.
      const optional = await forged.request('GET', '/api/session?optional=true');
      expect(optional.status).toBe(200);
      expect(optional.body).toEqual({ person: null, csrfToken: null });
      expect((await browser.request('GET', '/api/session?optional=true')).body).toMatchObject({ person: { id }, csrfToken: browser.csrfToken });
    });

    it('logs in with the right password only, with one answer for a wrong password and an unknown email', async () => {
      const { email } = await newPerson();
      const wrong = await client().login(email, 'not the password');
      expectError(wrong, 401, 'invalid_token');
      const unknown = await client().login(uniqueEmail(), 'not the password');
      expectError(unknown, 401, 'invalid_token');
      expect(unknown.body).toMatchObject({ error: (wrong.body as unknown as { error: unknown }).error });
      expect(wrong.setCookies).toEqual([]);

      const browser = client();
      const ok = await browser.login(email.toUpperCase(), PASSWORD);
      expect(ok.status, ok.text).toBe(200);
      expect(ok.body.person.email).toBe(email);
      expect((await browser.request('GET', '/api/session')).status).toBe(200);
    });

    it('logout deletes the session: the old cookie no longer works', async () => {
      const { browser } = await newPerson();
      const copied = browser.clone();
      const res = await browser.request('POST', '/api/logout');
      expect(res.status).toBe(204);
      expect(res.setCookies[0]).toMatch(/^moongate_session=;/);
      expect(browser.cookie).toBeUndefined();
      expectError(await copied.request('GET', '/api/session'), 401, 'invalid_token');
      // Logging out again, without a session, is harmless.
      expect((await client().request('POST', '/api/logout')).status).toBe(204);
    });

    it('expires a session left idle past its TTL, and slides the expiry of one in use', async () => {
      const { browser } = await newPerson();
      const db = moongate.server.store.db;
      const hash = hashSessionId(browser.cookie ?? '');
      const twoMinutesAgo = Date.now() - 120_000;
      await db.updateTable('sessions').set({ last_seen_at: twoMinutesAgo, expires_at: twoMinutesAgo + 1_000_000 }).where('token_hash', '=', hash).execute();
      const used = await browser.request('GET', '/api/session');
      expect(used.status).toBe(200);
      const row = await db.selectFrom('sessions').selectAll().where('token_hash', '=', hash).executeTakeFirstOrThrow();
      expect(row.last_seen_at).toBeGreaterThan(twoMinutesAgo);
      expect(row.expires_at).toBeGreaterThan(Date.now() + 29 * 86_400_000);
      expect(used.setCookies[0]).toMatch(/^moongate_session=[A-Za-z0-9_-]{43};.*Max-Age=2592000/i);

      await db.updateTable('sessions').set({ expires_at: Date.now() - 1 }).where('token_hash', '=', hash).execute();
      const expired = await browser.request('GET', '/api/session');
      expectError(expired, 401, 'invalid_token');
      expect(expired.setCookies[0]).toMatch(/^moongate_session=;/);
    });

    it('stores only a hash of the session id', async () => {
      const { browser, id } = await newPerson();
      const rows = await moongate.server.store.db.selectFrom('sessions').selectAll().where('person_id', '=', id).execute();
      expect(rows).toHaveLength(1);
      expect(JSON.stringify(rows)).not.toContain(browser.cookie);
      expect(rows[0]?.token_hash).toBe(hashSessionId(browser.cookie ?? ''));
    });
  });

  describe('login throttle', () => {
    it('answers 429 with retry-after after 5 failures for an email, even to the right password', async () => {
      const { email } = await newPerson();
      // A different address per attempt would not help: the email's own limit is the one hit here.
      for (let i = 0; i < 5; i++) expectError(await client().login(email, `wrong ${i}`), 401, 'invalid_token');
      const blocked = await client().login(email, PASSWORD);
      expectError(blocked, 429, 'too_many_requests');
      const retryAfter = Number(blocked.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(14 * 60);
      expect(retryAfter).toBeLessThanOrEqual(15 * 60);
      expect(blocked.setCookies).toEqual([]);
      // Another person is not affected.
      const other = await newPerson();
      expect((await client().login(other.email, PASSWORD)).status).toBe(200);
    });
  });

  describe('CSRF', () => {
    it('refuses a state-changing call without the right x-csrf-token, and changes nothing', async () => {
      const { browser } = await newPerson();
      const before = await browser.request<{ credentials: Credential[] }>('GET', '/api/credentials');
      const missing = await browser.request('POST', '/api/credentials', { body: { name: 'x' }, csrf: false });
      expectError(missing, 400, 'bad_request');
      expect(missing.text).toMatch(/x-csrf-token/);
      expectError(await browser.request('POST', '/api/credentials', { body: { name: 'x' }, csrf: 'wrong' }), 400, 'bad_request');
      // Another session's token does not do either.
      const other = await newPerson();
      expectError(await browser.request('POST', '/api/credentials', { body: { name: 'x' }, csrf: other.browser.csrfToken ?? '' }), 400, 'bad_request');
      expectError(await browser.request('POST', '/api/services/kimi-chat-completions/acquire', { csrf: false }), 400, 'bad_request');
      const after = await browser.request<{ credentials: Credential[] }>('GET', '/api/credentials');
      expect(after.body.credentials).toEqual(before.body.credentials);
      expect(after.body.credentials).toEqual([]);
      expect(await moongate.server.store.db.selectFrom('applications').select('id').where('person_id', '=', other.id).execute()).toEqual([]);

      const created = await browser.request<{ credential: Credential }>('POST', '/api/credentials', { body: { name: 'x' } });
      expect(created.status).toBe(201);
      const revoke = await browser.request('DELETE', `/api/credentials/${created.body.credential.id}`, { csrf: false });
      expectError(revoke, 400, 'bad_request');
      const listed = await browser.request<{ credentials: Credential[] }>('GET', '/api/credentials');
      expect(listed.body.credentials.map((c) => c.status)).toEqual(['active']);

      const copied = browser.clone();
      expectError(await browser.request('POST', '/api/logout', { csrf: false }), 400, 'bad_request');
      expect((await copied.request('GET', '/api/session')).status).toBe(200);
    });

    it('refuses a foreign Origin even with the right token, and accepts this host as Origin', async () => {
      const { browser } = await newPerson();
      const foreign = await browser.request('POST', '/api/credentials', { body: {}, headers: { origin: 'https://evil.example' } });
      expectError(foreign, 400, 'bad_request');
      expect(foreign.text).toMatch(/origin/);
      expectError(await browser.request('POST', '/api/credentials', { body: {}, headers: { origin: 'null' } }), 400, 'bad_request');
      expectError(await client().request('POST', '/api/login', { body: { email: uniqueEmail(), password: PASSWORD }, headers: { origin: 'https://evil.example' } }), 400, 'bad_request');
      expect((await browser.request<{ credentials: Credential[] }>('GET', '/api/credentials')).body.credentials).toEqual([]);
      const same = await browser.request('POST', '/api/credentials', { body: {}, headers: { origin: moongate.url } });
      expect(same.status, same.text).toBe(201);
    });

    it('a password change without the token changes nothing', async () => {
      const { browser, email } = await newPerson();
      const res = await browser.request('POST', '/api/password', { body: { current: PASSWORD, next: 'a brand new password' }, csrf: false });
      expectError(res, 400, 'bad_request');
      expect((await client().login(email, PASSWORD)).status).toBe(200);
    });
  });

  describe('password change', () => {
    it('needs the current password, then logs out every other session and keeps this one', async () => {
      const { browser, email } = await newPerson();
      const laptop = client();
      expect((await laptop.login(email, PASSWORD)).status).toBe(200);

      const wrong = await browser.request('POST', '/api/password', { body: { current: 'not it at all', next: 'a brand new password' } });
      expectError(wrong, 400, 'bad_request');
      expect(wrong.text).toMatch(/current/);
      const weak = await browser.request('POST', '/api/password', { body: { current: PASSWORD, next: 'short' } });
      expectError(weak, 400, 'bad_request');
      expect(weak.text).toMatch(/next/);
      expect((await laptop.request('GET', '/api/session')).status).toBe(200);

      const changed = await browser.request('POST', '/api/password', { body: { current: PASSWORD, next: 'a brand new password' } });
      expect(changed.status, changed.text).toBe(204);
      expect((await browser.request('GET', '/api/session')).status).toBe(200);
      expectError(await laptop.request('GET', '/api/session'), 401, 'invalid_token');
      expectError(await client().login(email, PASSWORD), 401, 'invalid_token');
      expect((await client().login(email, 'a brand new password')).status).toBe(200);
    });
  });

  describe('services and Acquire', () => {
    it('lists the services and their models to anyone', async () => {
      const res = await client().request<{ services: Array<Record<string, unknown>> }>('GET', '/api/services');
      expect(res.status).toBe(200);
      const kimi = res.body.services.find((s) => s.slug === KIMI_SERVICE.slug);
      expect(kimi).toMatchObject({ name: KIMI_SERVICE.name, status: 'active' });
      expect(kimi).not.toHaveProperty('application');
      expect(kimi?.models).toHaveLength(7);
      expect(kimi?.currency).toBe('EUR');
      // SPEC.md's reference prices, in micro-units per 1M tokens.
      expect(kimi?.models).toContainEqual({
        id: 'kimi-k2.5',
        displayName: 'kimi-k2.5',
        thinking: true,
        thinkingMode: 'always',
        efforts: [],
        inputs: ['text'],
        contextTokens: 262_144,
        price: { cachedInput: 100_000, input: 600_000, output: 3_000_000, cacheWrite: 600_000 },
      });
    });

    it('Acquire twice: one application, one credential, the token shown once, and the token works', async () => {
      const { browser } = await newPerson();
      const acquire = (): Promise<ConsoleResponse<{ application: { id: string }; credential: Credential | null; token?: string }>> =>
        browser.request('POST', `/api/services/${KIMI_SERVICE.slug}/acquire`);
      const first = await acquire();
      expect(first.status, first.text).toBe(201);
      expect(first.body.token).toMatch(CREDENTIAL_TOKEN_PATTERN);
      expect(first.body.credential).toMatchObject({ applicationId: first.body.application.id, status: 'active', global: false });
      const second = await acquire();
      expect(second.status).toBe(200);
      expect(second.body).toEqual({ application: first.body.application, credential: null });
      expect(second.text).not.toContain(first.body.token);

      const listed = await browser.request<{ credentials: Credential[] }>('GET', '/api/credentials');
      expect(listed.body.credentials).toHaveLength(1);
      expect(listed.text).not.toContain(first.body.token);
      const services = await browser.request<{ services: Array<{ slug: string; application?: { id: string } | null }> }>('GET', '/api/services');
      expect(services.body.services.find((s) => s.slug === KIMI_SERVICE.slug)?.application?.id).toBe(first.body.application.id);

      const chat = await chatWith(first.body.token ?? '');
      expect(chat.status).toBe(200);
      await chat.text();
    });

    it('concurrent Acquire clicks still issue one credential', async () => {
      const { browser } = await newPerson();
      const results = await Promise.all([1, 2, 3].map(() => browser.request('POST', `/api/services/${KIMI_SERVICE.slug}/acquire`)));
      expect(results.map((r) => r.status).sort()).toEqual([200, 200, 201]);
      expect((await browser.request<{ credentials: Credential[] }>('GET', '/api/credentials')).body.credentials).toHaveLength(1);
    });

    it('a wrong method on a console path is api_not_implemented, an unknown path no_api', async () => {
      expectError(await client().request('GET', '/api/login'), 400, 'api_not_implemented');
      expectError(await client().request('GET', '/api/no-such-thing'), 404, 'no_api');
    });

    it('an unknown service is 404, and Acquire needs a session', async () => {
      const { browser } = await newPerson();
      expectError(await browser.request('POST', '/api/services/no-such-api/acquire'), 404, 'no_api');
      expectError(await client().request('POST', `/api/services/${KIMI_SERVICE.slug}/acquire`), 401, 'invalid_token');
    });
  });

  describe('credentials', () => {
    it('creates service and global credentials, validates input by field, and revokes', async () => {
      const { browser } = await newPerson();
      const service = await browser.request<{ credential: Credential; token: string }>('POST', '/api/credentials', {
        body: { name: 'laptop', expiresInDays: 30 },
      });
      expect(service.status, service.text).toBe(201);
      expect(service.body.credential).toMatchObject({ name: 'laptop', global: false, serviceSlug: KIMI_SERVICE.slug });
      expect(service.body.credential.expiresAt).toBeGreaterThan(Date.now() + 29 * 86_400_000);
      const global = await browser.request<{ credential: Credential; token: string }>('POST', '/api/credentials', { body: { global: true } });
      expect(global.status).toBe(201);
      expect(global.body.credential).toMatchObject({ global: true, serviceSlug: null, name: 'default' });

      for (const [body, field] of [
        [{ name: '' }, 'name'],
        [{ global: 'yes' }, 'global'],
        [{ expiresInDays: 0 }, 'expiresInDays'],
        [{ expiresInDays: 1.5 }, 'expiresInDays'],
        [{ service: 'no-such-api' }, 'service'],
        [{ global: true, service: KIMI_SERVICE.slug }, 'service'],
      ] as const) {
        const res = await browser.request('POST', '/api/credentials', { body });
        expectError(res, 400, 'bad_request');
        expect(res.body).toMatchObject({ error: { message: expect.stringContaining(field) } });
      }

      const revoked = await browser.request<{ credential: Credential }>('DELETE', `/api/credentials/${service.body.credential.id}`);
      expect(revoked.status).toBe(200);
      expect(revoked.body.credential).toMatchObject({ id: service.body.credential.id, status: 'revoked' });
      expect(revoked.text).not.toContain(service.body.token);
      const chat = await chatWith(service.body.token);
      expect(chat.status).toBe(401);
      await chat.text();
      const listed = await browser.request<{ credentials: Credential[] }>('GET', '/api/credentials');
      expect(listed.body.credentials.map((c) => [c.name, c.status])).toEqual([
        ['laptop', 'revoked'],
        ['default', 'active'],
      ]);
    });
  });

  describe('balance and usage', () => {
    interface UsagePage {
      rows: Array<{ traceId: string; credentialId: string; model: string; status: string; cost: number; promptTokens: number }>;
      next: string | null;
    }

    it('Acquire brings the free quota; usage lists the person\'s requests, paged, and daily totals', async () => {
      const { browser } = await newPerson();
      const before = await browser.request('GET', '/api/balance');
      expect(before.status).toBe(200);
      expect(before.body).toEqual({ quota: 0, balance: 0, held: 0, currency: 'EUR' });
      const acquired = await browser.request<{ credential: Credential; token: string }>('POST', `/api/services/${KIMI_SERVICE.slug}/acquire`);
      expect((await browser.request('GET', '/api/balance')).body).toEqual({ quota: 1_500_000, balance: 0, held: 0, currency: 'EUR' });

      const since = Date.now() - 1000;
      const traceIds: string[] = [];
      for (let i = 0; i < 3; i++) {
        const chat = await chatWith(acquired.body.token);
        expect(chat.status).toBe(200);
        traceIds.push(chat.headers.get('x-trace-id') ?? '');
        await chat.text();
      }
      const first = await browser.request<UsagePage>('GET', `/api/usage?limit=2&since=${since}`);
      expect(first.status, first.text).toBe(200);
      expect(first.body.rows).toHaveLength(2);
      expect(first.body.next).not.toBeNull();
      const second = await browser.request<UsagePage>('GET', `/api/usage?limit=2&since=${since}&before=${first.body.next ?? ''}`);
      expect(second.body.rows).toHaveLength(1);
      expect(second.body.next).toBeNull();
      const rows = [...first.body.rows, ...second.body.rows];
      expect(rows.map((r) => r.traceId).sort()).toEqual([...traceIds].sort());
      for (const row of rows) {
        expect(row).toMatchObject({ credentialId: acquired.body.credential.id, model: 'kimi-k2.5', status: 'completed', promptTokens: 9 });
        expect(Number.isSafeInteger(row.cost) && row.cost > 0).toBe(true);
      }
      const spent = rows.reduce((sum, r) => sum + r.cost, 0);
      expect((await browser.request('GET', '/api/balance')).body).toMatchObject({ quota: 1_500_000 - spent, held: 0 });

      expect((await browser.request<UsagePage>('GET', '/api/usage?model=kimi-k2-thinking')).body.rows).toEqual([]);
      expect((await browser.request<UsagePage>('GET', '/api/usage?status=failed')).body.rows).toEqual([]);
      const daily = await browser.request<{ days: Array<Record<string, unknown>> }>('GET', `/api/usage/daily?since=${since - 86_400_000}&until=${Date.now() + 1000}`);
      expect(daily.status, daily.text).toBe(200);
      expect(daily.body.days).toEqual([
        { day: new Date().toISOString().slice(0, 10), model: 'kimi-k2.5', requests: 3, promptTokens: 27, completionTokens: expect.any(Number), cost: spent },
      ]);
    });

    it('names the field of a bad query, and needs a session', async () => {
      const { browser } = await newPerson();
      for (const [path, field] of [
        ['/api/usage?limit=0', 'limit'],
        ['/api/usage?limit=501', 'limit'],
        ['/api/usage?since=yesterday', 'since'],
        ['/api/usage?status=bogus', 'status'],
        ['/api/usage?since=10&until=5', 'until'],
        ['/api/usage?before=bm90IGEgY3Vyc29y', 'before'],
        ['/api/usage/daily?until=5', 'since'],
        ['/api/usage/daily?since=5', 'until'],
        [`/api/usage/daily?since=0&until=${400 * 86_400_000}`, 'until'],
      ] as const) {
        const res = await browser.request('GET', path);
        expectError(res, 400, 'bad_request');
        expect(res.body, path).toMatchObject({ error: { message: expect.stringContaining(field) } });
      }
      for (const path of ['/api/balance', '/api/usage', '/api/usage/daily?since=0&until=1']) {
        expectError(await client().request('GET', path), 401, 'invalid_token');
      }
    });
  });

  describe('isolation', () => {
    it("B can neither list, revoke nor see A's credentials, and A's credential keeps working", async () => {
      const a = await newPerson();
      const b = await newPerson();
      const acquired = await a.browser.request<{ credential: Credential; token: string }>('POST', `/api/services/${KIMI_SERVICE.slug}/acquire`);
      expect(acquired.status).toBe(201);
      const aId = acquired.body.credential.id;
      await b.browser.request('POST', '/api/credentials', { body: { name: 'mine' } });

      const listedByB = await b.browser.request<{ credentials: Credential[] }>('GET', '/api/credentials');
      expect(listedByB.body.credentials.map((c) => c.name)).toEqual(['mine']);
      expect(listedByB.text).not.toContain(aId);

      const revokeByB = await b.browser.request('DELETE', `/api/credentials/${aId}`);
      expectError(revokeByB, 404, 'no_api');
      const unknown = await b.browser.request('DELETE', '/api/credentials/cred_000000000000000000000000');
      expectError(unknown, 404, 'no_api');
      // Someone else's id and an id that does not exist get the same answer.
      expect(revokeByB.text.replace(aId, 'ID').replace(/"trace_id":"[^"]+"/, '')).toBe(
        unknown.text.replace('cred_000000000000000000000000', 'ID').replace(/"trace_id":"[^"]+"/, ''),
      );

      const listedByA = await a.browser.request<{ credentials: Credential[] }>('GET', '/api/credentials');
      expect(listedByA.body.credentials).toEqual([acquired.body.credential]);
      const chat = await chatWith(acquired.body.token);
      expect(chat.status).toBe(200);
      const traceId = chat.headers.get('x-trace-id') ?? '';
      await chat.text();

      // A's request is in A's usage and balance, and nowhere in B's.
      const usageOfA = await a.browser.request<{ rows: Array<{ traceId: string }> }>('GET', '/api/usage');
      expect(usageOfA.body.rows.map((r) => r.traceId)).toEqual([traceId]);
      const day = { since: Date.now() - 86_400_000, until: Date.now() + 1000 };
      for (const path of ['/api/usage', `/api/usage?model=kimi-k2.5`, `/api/usage/daily?since=${day.since}&until=${day.until}`, '/api/balance']) {
        const res = await b.browser.request('GET', path);
        expect(res.status, res.text).toBe(200);
        expect(res.text).not.toContain(traceId);
        expect(res.text).not.toContain(aId);
      }
      expect((await b.browser.request<{ rows: unknown[] }>('GET', '/api/usage')).body.rows).toEqual([]);
      expect((await b.browser.request<{ days: unknown[] }>('GET', `/api/usage/daily?since=${day.since}&until=${day.until}`)).body.days).toEqual([]);
      const balanceOfA = await a.browser.request<{ quota: number }>('GET', '/api/balance');
      expect(balanceOfA.body.quota).toBeLessThan(1_500_000);
      // B's own credential brought B the free quota; A's spending did not touch it.
      expect((await b.browser.request('GET', '/api/balance')).body).toMatchObject({ quota: 1_500_000, held: 0 });
    });
  });
});
