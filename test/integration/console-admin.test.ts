/**
 * The operator's area, /api/admin/ (docs/console-api.md), against a real moongate on SQLite
 * and on PostgreSQL: invisible (404 no_api) to everyone but a logged-in admin, CSRF-guarded,
 * and each endpoint's effect: people (list, disable, promote, credit), credentials (list,
 * disable, limits), prices (applied to the very next request), everyone's daily usage and
 * top-up codes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticate } from '../../src/accounts/authenticate.js';
import { costOf } from '../../src/billing/price-list.js';
import { KIMI_SERVICE } from '../../src/store/seed-services.js';
import { ConsoleClient, expectError, uniqueEmail, type ConsoleResponse } from '../helpers/console-client.js';
import { describeEachDialect } from '../helpers/postgres.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

interface CredentialJson {
  id: string;
  personId: string;
  status: string;
  rps: number | null;
  concurrency: number | null;
  ownerEmail?: string;
}
interface PersonJson {
  id: string;
  email: string;
  role: string;
  status: string;
  quota: number;
  balance: number;
  held: number;
  credentials: number;
  requests30d: number;
  cost30d: number;
}
interface UsageJson {
  rows: Array<{ model: string; promptTokens: number; cachedTokens: number; completionTokens: number; cost: number; credentialId: string }>;
}

/** Every admin endpoint, with a body where it takes one. */
const ADMIN_CALLS: Array<[string, string, unknown?]> = [
  ['GET', '/api/admin/people'],
  ['PATCH', '/api/admin/people/per_000000000000000000000000', { status: 'disabled' }],
  ['POST', '/api/admin/people/per_000000000000000000000000/balance', { amount: 1 }],
  ['GET', '/api/admin/credentials'],
  ['PATCH', '/api/admin/credentials/cred_000000000000000000000000', { status: 'disabled' }],
  ['GET', '/api/admin/prices'],
  ['PUT', '/api/admin/prices/kimi-k2.5', { cachedInput: 0, input: 0, output: 0 }],
  ['GET', '/api/admin/usage/daily?since=0&until=1000'],
  ['POST', '/api/admin/codes', { amount: 1, count: 1 }],
  ['GET', '/api/admin/codes'],
  // A method no admin route serves: no_api too, not api_not_implemented.
  ['DELETE', '/api/admin/people'],
];

describeEachDialect((target) => {
  let moongate: TestServer;
  let admin: ConsoleClient;
  let adminId: string;

  beforeAll(async () => {
    const location = target.location();
    moongate = await startTestServer({
      env: { ...(location.databaseUrl === undefined ? {} : { DATABASE_URL: location.databaseUrl }), REGISTRATIONS_PER_HOUR: '1000' },
    });
    // A fresh database: the operator registers through the one-time setup link.
    const first = await ConsoleClient.newPerson(moongate.server.app, uniqueEmail('operator'), moongate.setupToken);
    admin = first.browser;
    adminId = first.id;
    expect((await admin.request<{ person: { role: string } }>('GET', '/api/session')).body.person.role).toBe('admin');
  });
  afterAll(async () => {
    await moongate?.close();
  });

  /** A user who acquired the Kimi service: browser, id, email, credential id and token. */
  const user = async () => {
    const person = await ConsoleClient.newPerson(moongate.server.app);
    const acquired = await person.browser.request<{ credential: CredentialJson; token: string }>('POST', `/api/services/${KIMI_SERVICE.slug}/acquire`);
    expect(acquired.status, acquired.text).toBe(201);
    return { ...person, credentialId: acquired.body.credential.id, token: acquired.body.token };
  };
  const chat = async (token: string): Promise<{ status: number; code?: string }> => {
    const res = await fetch(`${moongate.url}/kimi/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 16 }),
    });
    const body = (await res.json()) as { error?: { code: string } };
    return { status: res.status, ...(body.error === undefined ? {} : { code: body.error.code }) };
  };
  const personRow = async (email: string): Promise<PersonJson | undefined> => {
    const res = await admin.request<{ people: PersonJson[] }>('GET', `/api/admin/people?query=${encodeURIComponent(email)}`);
    expect(res.status, res.text).toBe(200);
    return res.body.people.find((p) => p.email === email);
  };
  /** The headers an answer has (not their values, which differ in date, length and trace id). */
  const headerNames = (res: ConsoleResponse<unknown>): string[] => [...res.headers.keys()].sort();
  /** The answer without its trace id and path, to compare two 404s. */
  const shape = (res: ConsoleResponse<unknown>, path: string): string =>
    res.text.replace(/"trace_id":"[^"]+"/, '').replace(path.split('?', 1)[0] ?? '', '<path>');

  describe('access', () => {
    it('answers 404 no_api to a user and to nobody, exactly as an unknown path, before CSRF and Origin checks', async () => {
      const { browser } = await user();
      const anonymous = new ConsoleClient(moongate.server.app);
      const unknown = await anonymous.request('GET', '/api/no-such-area');
      for (const [method, path, body] of ADMIN_CALLS) {
        for (const [who, client, options] of [
          ['user', browser, {}],
          ['user without CSRF', browser, { csrf: false }],
          ['user from another site', browser, { headers: { origin: 'https://evil.example' } }],
          ['nobody', anonymous, {}],
        ] as const) {
          const res = await client.request(method, path, { ...options, ...(body === undefined ? {} : { body }) });
          expectError(res, 404, 'no_api');
          expect(shape(res, path), `${who} ${method} ${path}`).toBe(shape(unknown, '/api/no-such-area'));
          expect(headerNames(res), `${who} ${method} ${path}`).toEqual(headerNames(unknown));
          expect(res.headers.get('content-type')).toBe(unknown.headers.get('content-type'));
        }
      }
      // Nothing changed: the price a user tried to zero is intact.
      const prices = await admin.request<{ prices: Array<{ model: string; output: number }> }>('GET', '/api/admin/prices');
      expect(prices.body.prices.find((p) => p.model === 'kimi-k2.5')?.output).toBeGreaterThan(0);
    });

    it('holds an admin to the CSRF token and Origin checks', async () => {
      const target = await user();
      const missing = await admin.request('PATCH', `/api/admin/people/${target.id}`, { body: { status: 'disabled' }, csrf: false });
      expectError(missing, 400, 'bad_request');
      expect(missing.text).toMatch(/x-csrf-token/);
      expectError(
        await admin.request('PATCH', `/api/admin/people/${target.id}`, { body: { status: 'disabled' }, headers: { origin: 'https://evil.example' } }),
        400,
        'bad_request',
      );
      expect((await personRow(target.email))?.status).toBe('active');
    });
  });

  describe('people', () => {
    it('lists people with balances, live credentials and the last 30 days, searchable and paged', async () => {
      const someone = await user();
      expect((await chat(someone.token)).status).toBe(200);
      await someone.browser.request('POST', '/api/credentials', { body: { name: 'second' } });
      const revoked = await someone.browser.request<{ credential: CredentialJson }>('POST', '/api/credentials', { body: { name: 'gone' } });
      await someone.browser.request('DELETE', `/api/credentials/${revoked.body.credential.id}`);
      const own = await someone.browser.request<UsageJson>('GET', '/api/usage');
      const balance = await someone.browser.request<{ quota: number; balance: number }>('GET', '/api/balance');

      const row = await personRow(someone.email);
      expect(row).toEqual({
        id: someone.id,
        email: someone.email,
        role: 'user',
        status: 'active',
        createdAt: expect.any(Number),
        quota: balance.body.quota,
        balance: 0,
        held: 0,
        credentials: 2,
        requests30d: 1,
        cost30d: own.body.rows[0]?.cost,
        limits: { credentials: null, rps: null, concurrency: null },
      });
      expect(row?.cost30d).toBeGreaterThan(0);

      // A search is a substring of the email; LIKE wildcards in it are literal.
      const byWildcard = await admin.request<{ people: PersonJson[] }>('GET', `/api/admin/people?query=${encodeURIComponent('%')}`);
      expect(byWildcard.body.people).toEqual([]);
      const first = await admin.request<{ people: PersonJson[]; next: string | null }>('GET', '/api/admin/people?limit=1');
      expect(first.body.people).toHaveLength(1);
      expect(first.body.next).toEqual(expect.any(String));
      const second = await admin.request<{ people: PersonJson[] }>('GET', `/api/admin/people?limit=1&before=${first.body.next ?? ''}`);
      expect(second.body.people).toHaveLength(1);
      expect(second.body.people[0]?.id).not.toBe(first.body.people[0]?.id);
      expectError(await admin.request('GET', '/api/admin/people?limit=0'), 400, 'bad_request');
    });

    it('disables a person (ending their sessions, refusing their token) and enables them again', async () => {
      const someone = await user();
      const res = await admin.request<{ person: { status: string } }>('PATCH', `/api/admin/people/${someone.id}`, { body: { status: 'disabled' } });
      expect(res.status, res.text).toBe(200);
      expect(res.body.person).toMatchObject({ id: someone.id, status: 'disabled' });
      expect(await moongate.server.store.db.selectFrom('sessions').select('id').where('person_id', '=', someone.id).execute()).toEqual([]);
      expectError(await someone.browser.request('GET', '/api/session'), 401, 'invalid_token');
      expect(await chat(someone.token)).toEqual({ status: 403, code: 'disabled' });
      await admin.request('PATCH', `/api/admin/people/${someone.id}`, { body: { status: 'active' } });
      expect((await chat(someone.token)).status).toBe(200);
    });

    it('promotes and demotes another person, but an admin cannot disable or demote themself', async () => {
      const someone = await user();
      expect((await admin.request('PATCH', `/api/admin/people/${someone.id}`, { body: { role: 'admin' } })).status).toBe(200);
      expect((await someone.browser.request('GET', '/api/admin/people')).status).toBe(200);
      expect((await admin.request('PATCH', `/api/admin/people/${someone.id}`, { body: { role: 'user' } })).status).toBe(200);
      expectError(await someone.browser.request('GET', '/api/admin/people'), 404, 'no_api');

      for (const body of [{ status: 'disabled' }, { role: 'user' }]) {
        const self = await admin.request('PATCH', `/api/admin/people/${adminId}`, { body });
        expectError(self, 400, 'bad_request');
        expect(self.text).toMatch(/themself/);
      }
      expect((await admin.request<{ person: { role: string } }>('GET', '/api/session')).body.person.role).toBe('admin');
      expectError(await admin.request('PATCH', '/api/admin/people/per_000000000000000000000000', { body: { status: 'active' } }), 404, 'no_api');
      expectError(await admin.request('PATCH', `/api/admin/people/${someone.id}`, { body: {} }), 400, 'bad_request');
      expectError(await admin.request('PATCH', `/api/admin/people/${someone.id}`, { body: { status: 'gone' } }), 400, 'bad_request');
    });

    it("credits a person's global balance in micro-units", async () => {
      const someone = await user();
      const res = await admin.request<{ balance: number; personId: string }>('POST', `/api/admin/people/${someone.id}/balance`, { body: { amount: 5_000_000 } });
      expect(res.status, res.text).toBe(200);
      expect(res.body).toMatchObject({ personId: someone.id, balance: 5_000_000 });
      await admin.request('POST', `/api/admin/people/${someone.id}/balance`, { body: { amount: -1_000_000 } });
      expect((await someone.browser.request('GET', '/api/balance')).body).toMatchObject({ balance: 4_000_000 });
      expectError(await admin.request('POST', `/api/admin/people/${someone.id}/balance`, { body: { amount: 0 } }), 400, 'bad_request');
      expectError(await admin.request('POST', `/api/admin/people/${someone.id}/balance`, { body: { amount: 1.5 } }), 400, 'bad_request');
      expectError(await admin.request('POST', '/api/admin/people/per_000000000000000000000000/balance', { body: { amount: 1 } }), 404, 'no_api');
    });
  });

  describe('credentials', () => {
    it('lists every credential with its owner, filtered by person, never a token', async () => {
      const ada = await user();
      const bob = await user();
      const all = await admin.request<{ credentials: CredentialJson[] }>('GET', '/api/admin/credentials?limit=500');
      expect(all.status, all.text).toBe(200);
      expect(all.body.credentials.find((c) => c.id === ada.credentialId)).toMatchObject({ ownerEmail: ada.email, personId: ada.id });
      expect(all.body.credentials.find((c) => c.id === bob.credentialId)).toMatchObject({ ownerEmail: bob.email });
      for (const token of [ada.token, bob.token]) expect(all.text).not.toContain(token.slice(10));
      expect(all.text).not.toMatch(/token_hash|tokenHash/);
      const adas = await admin.request<{ credentials: CredentialJson[] }>('GET', `/api/admin/credentials?person=${ada.id}`);
      expect(adas.body.credentials.map((c) => c.id)).toEqual([ada.credentialId]);
    });

    it('disables and re-enables a credential and sets its limits, which its owner sees; a revoked one stays revoked', async () => {
      const someone = await user();
      const path = `/api/admin/credentials/${someone.credentialId}`;
      expect((await admin.request('PATCH', path, { body: { status: 'disabled' } })).status).toBe(200);
      expect(await chat(someone.token)).toEqual({ status: 403, code: 'disabled' });
      const limited = await admin.request<{ credential: CredentialJson }>('PATCH', path, { body: { status: 'active', rps: 1, concurrency: 3 } });
      expect(limited.body.credential).toMatchObject({ status: 'active', rps: 1, concurrency: 3 });
      expect((await chat(someone.token)).status).toBe(200);
      // The limits travel with the credential into admission.
      const caller = await authenticate(`Bearer ${someone.token}`, KIMI_SERVICE.slug, moongate.server.store);
      expect(caller.limits).toEqual({ rps: 1, concurrency: 3 });

      const own = await someone.browser.request<{ credentials: CredentialJson[]; defaults: { rps: number; concurrency: number } }>('GET', '/api/credentials');
      expect(own.body.defaults).toEqual({ rps: 60, concurrency: 20 });
      expect(own.body.credentials[0]).toMatchObject({ rps: 1, concurrency: 3 });
      expect(own.body.credentials[0]).not.toHaveProperty('rpsLimit');
      await admin.request('PATCH', path, { body: { rps: null } });
      expect((await someone.browser.request<{ credentials: CredentialJson[] }>('GET', '/api/credentials')).body.credentials[0]).toMatchObject({
        rps: null,
        concurrency: 3,
      });

      expectError(await admin.request('PATCH', path, { body: { rps: 0 } }), 400, 'bad_request');
      await someone.browser.request('DELETE', `/api/credentials/${someone.credentialId}`);
      expectError(await admin.request('PATCH', path, { body: { status: 'active' } }), 400, 'bad_request');
      expectError(await admin.request('PATCH', path, { body: { rps: 5 } }), 400, 'bad_request');
      expect(await chat(someone.token)).toEqual({ status: 401, code: 'invalid_token' });
      expectError(await admin.request('PATCH', '/api/admin/credentials/cred_000000000000000000000000', { body: { rps: 5 } }), 404, 'no_api');
    });
  });

  describe('prices', () => {
    it('lists the prices and applies a new one to the very next request', async () => {
      const listed = await admin.request<{ currency: string; prices: Array<{ model: string }> }>('GET', '/api/admin/prices');
      expect(listed.body.currency).toBe('USD');
      // The seed's seven and Moonshot's current four (docs/models.md).
      expect(listed.body.prices).toHaveLength(7 + 4);

      const someone = await user();
      // The admission price cache is warm with the old price before the change.
      expect((await chat(someone.token)).status).toBe(200);
      const price = { model: 'kimi-k2.5', cachedInput: 200_000, input: 7_000_000, output: 90_000_000, cacheWrite: 7_000_000 };
      const put = await admin.request('PUT', '/api/admin/prices/kimi-k2.5', { body: { cachedInput: 200_000, input: 7_000_000, output: 90_000_000 } });
      expect(put.status, put.text).toBe(200);
      expect(put.body).toEqual({ price });
      expect((await chat(someone.token)).status).toBe(200);
      const rows = (await someone.browser.request<UsageJson>('GET', '/api/usage')).body.rows;
      expect(rows).toHaveLength(2);
      const newest = rows[0];
      if (newest === undefined) throw new Error('no usage row');
      expect(newest.cost).toBe(costOf(price, newest));
      const services = await someone.browser.request<{ services: Array<{ models: Array<{ id: string; price: unknown }> }> }>('GET', '/api/services');
      expect(services.body.services[0]?.models.find((m) => m.id === 'kimi-k2.5')?.price).toEqual({ cachedInput: 200_000, input: 7_000_000, output: 90_000_000, cacheWrite: 7_000_000 });

      expectError(await admin.request('PUT', '/api/admin/prices/gpt-4', { body: { cachedInput: 1, input: 1, output: 1 } }), 404, 'model_not_found');
      expectError(await admin.request('PUT', '/api/admin/prices/kimi-k2.5', { body: { cachedInput: -1, input: 1, output: 1 } }), 400, 'bad_request');
      expectError(await admin.request('PUT', '/api/admin/prices/kimi-k2.5', { body: { input: 1, output: 1 } }), 400, 'bad_request');
    });
  });

  describe('usage and codes', () => {
    it("totals everyone's usage per day, where a person sees only their own", async () => {
      const ada = await user();
      const bob = await user();
      const since = Date.now() - 60_000;
      expect((await chat(ada.token)).status).toBe(200);
      expect((await chat(bob.token)).status).toBe(200);
      const until = Date.now() + 60_000;
      const query = `?since=${since}&until=${until}`;
      const everyone = await admin.request<{ days: Array<{ requests: number; cost: number }> }>('GET', `/api/admin/usage/daily${query}`);
      expect(everyone.status, everyone.text).toBe(200);
      const mine = await ada.browser.request<{ days: Array<{ requests: number }> }>('GET', `/api/usage/daily${query}`);
      const sum = (days: Array<{ requests: number }>): number => days.reduce((total, d) => total + d.requests, 0);
      expect(sum(mine.body.days)).toBe(1);
      expect(sum(everyone.body.days)).toBeGreaterThanOrEqual(2);
      const logged = await moongate.server.store.db.selectFrom('usage').select('trace_id').where('created_at', '>=', since).where('created_at', '<', until).execute();
      expect(sum(everyone.body.days)).toBe(logged.length);
      expectError(await admin.request('GET', '/api/admin/usage/daily?since=5'), 400, 'bad_request');
    });

    it('makes codes shown once, which a person redeems, and lists them without their text', async () => {
      const made = await admin.request<{ codes: Array<{ id: string; code: string; amount: number; expiresAt: number | null }> }>('POST', '/api/admin/codes', {
        body: { amount: 3_000_000, count: 2, expiresInDays: 7 },
      });
      expect(made.status, made.text).toBe(201);
      expect(made.body.codes).toHaveLength(2);
      const [first, second] = made.body.codes;
      if (first === undefined || second === undefined) throw new Error('codes missing');
      expect(first.expiresAt).toBeGreaterThan(Date.now() + 6 * 86_400_000);
      const someone = await user();
      const redeemed = await someone.browser.request('POST', '/api/balance/redeem', { body: { code: first.code } });
      expect(redeemed.body).toMatchObject({ balance: 3_000_000, redeemed: 3_000_000 });

      const listed = await admin.request<{ codes: Array<{ id: string; status: string; createdBy: string | null; redeemedBy: { email: string } | null }> }>(
        'GET',
        '/api/admin/codes',
      );
      expect(listed.body.codes.find((c) => c.id === first.id)).toMatchObject({ status: 'redeemed', createdBy: adminId, redeemedBy: { email: someone.email } });
      expect(listed.body.codes.find((c) => c.id === second.id)).toMatchObject({ status: 'unused', redeemedBy: null });
      for (const code of [first.code, second.code]) expect(listed.text).not.toContain(code.slice(3));
      expectError(await admin.request('POST', '/api/admin/codes', { body: { amount: 0, count: 1 } }), 400, 'bad_request');
      expectError(await admin.request('POST', '/api/admin/codes', { body: { amount: 1, count: 1001 } }), 400, 'bad_request');
    });
  });
});
