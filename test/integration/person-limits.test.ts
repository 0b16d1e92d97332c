/**
 * Per-person limits (issue 15, item 6; docs/security.md, "Per-person limits"): a person's
 * requests at once are capped across all their credentials, taken in the same limiter call
 * as each credential's; the number of credentials they hold is capped at creation (console,
 * Acquire and CLI, which may override with --over-limit); the operator sets a person's own
 * limits from the console and the CLI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleClient, expectError, uniqueEmail } from '../helpers/console-client.js';
import { GatedProvider } from '../helpers/gated-provider.js';
import { ensureBuilt, runMoongate } from '../helpers/moongate-cli.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { KIMI_SERVICE } from '../../src/store/seed-services.js';

const HELLO = { model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 16 };

/** Polls a condition the server reaches on its own (requests reaching the gated upstream). */
async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 3_000; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const chat = (url: string, token: string): Promise<Response> =>
  fetch(`${url}/kimi/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(HELLO),
  });

describe('per-person concurrency across credentials', () => {
  it("one person's credentials share the person's concurrency; another person is not affected", async () => {
    const provider = new GatedProvider();
    const moongate = await startTestServer({ provider, env: { PERSON_CONCURRENCY_LIMIT: '2' } });
    try {
      // Three credentials of one person, each well under its own limit of 20.
      const tokens = [moongate.token, await moongate.mint('ada@example.com'), await moongate.mint('ada@example.com')];
      const running = [chat(moongate.url, tokens[0] ?? ''), chat(moongate.url, tokens[1] ?? '')];
      await until(() => provider.calls === 2, 'two requests to reach the upstream');
      const third = await chat(moongate.url, tokens[2] ?? '');
      expect(third.status).toBe(429);
      expect(await third.json()).toMatchObject({ success: false, error: { code: 'too_many_requests' } });
      expect(third.headers.get('retry-after')).toBe('1');
      // Someone else's credential still runs.
      const other = chat(moongate.url, await moongate.mint('grace@example.com'));
      await until(() => provider.calls === 3, "the other person's request to reach the upstream");
      provider.open();
      expect((await Promise.all([...running, other])).map((r) => r.status)).toEqual([200, 200, 200]);
      // The refused request took no place: with the others done, the third credential runs.
      expect((await chat(moongate.url, tokens[2] ?? '')).status).toBe(200);
    } finally {
      await moongate.close();
    }
  });
});

describe('credentials per person and the operator\'s limits', () => {
  let moongate: TestServer;
  let admin: ConsoleClient;

  beforeAll(async () => {
    moongate = await startTestServer({ env: { PERSON_CREDENTIALS_LIMIT: '2', PERSON_CONCURRENCY_LIMIT: '7', REGISTRATIONS_PER_HOUR: '1000' } });
    admin = (await ConsoleClient.newPerson(moongate.url, uniqueEmail('operator'), moongate.setupToken)).browser;
  });
  afterAll(async () => {
    await moongate?.close();
  });

  it('refuses a credential past the limit (Acquire counts, revoked ones do not), and the operator can raise it for one person', async () => {
    const { browser, id } = await ConsoleClient.newPerson(moongate.url);
    expect((await browser.request('POST', `/api/services/${KIMI_SERVICE.slug}/acquire`)).status).toBe(201);
    const second = await browser.request<{ credential: { id: string } }>('POST', '/api/credentials', { body: { name: 'second' } });
    expect(second.status, second.text).toBe(201);
    const third = await browser.request('POST', '/api/credentials', { body: { name: 'third' } });
    expectError(third, 400, 'bad_request');
    expect(third.text).toMatch(/at most 2 credentials/);
    // Revoking one frees a place.
    expect((await browser.request('DELETE', `/api/credentials/${second.body.credential.id}`)).status).toBe(200);
    expect((await browser.request('POST', '/api/credentials', { body: { name: 'again' } })).status).toBe(201);
    expectError(await browser.request('POST', '/api/credentials', { body: {} }), 400, 'bad_request');

    const listed = await browser.request<{ personLimits: unknown }>('GET', '/api/credentials');
    expect(listed.body.personLimits).toEqual({ credentials: 2, rps: 120, concurrency: 7 });

    // The operator raises this person's limits from the console.
    const patched = await admin.request<{ person: { limits: unknown } }>('PATCH', `/api/admin/people/${id}`, { body: { credentials: 3, concurrency: 4 } });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body.person.limits).toEqual({ credentials: 3, rps: null, concurrency: 4 });
    expect((await browser.request('POST', '/api/credentials', { body: { name: 'raised' } })).status).toBe(201);
    expectError(await browser.request('POST', '/api/credentials', { body: {} }), 400, 'bad_request');
    expect((await browser.request<{ personLimits: unknown }>('GET', '/api/credentials')).body.personLimits).toEqual({ credentials: 3, rps: 120, concurrency: 4 });
    const people = await admin.request<{ people: Array<{ id: string; limits: unknown }>; defaults: unknown }>('GET', '/api/admin/people');
    expect(people.body.defaults).toEqual({ credentials: 2, rps: 120, concurrency: 7 });
    expect(people.body.people.find((p) => p.id === id)?.limits).toEqual({ credentials: 3, rps: null, concurrency: 4 });
    expectError(await admin.request('PATCH', `/api/admin/people/${id}`, { body: { rps: 0 } }), 400, 'bad_request');
    // null restores the default.
    const reset = await admin.request<{ person: { limits: unknown } }>('PATCH', `/api/admin/people/${id}`, { body: { credentials: null } });
    expect(reset.body.person.limits).toEqual({ credentials: null, rps: null, concurrency: 4 });
  });
});

describe('moongate credential create and person limits', () => {
  beforeAll(ensureBuilt, 120_000);

  it('the CLI counts credentials too, --over-limit overrides, and person limits sets and shows a person\'s own', async () => {
    const moongate = await startTestServer({ env: { PERSON_CREDENTIALS_LIMIT: '1' } });
    try {
      const env = { DATA_DIR: moongate.dataDir, PERSON_CREDENTIALS_LIMIT: '1' };
      const first = await runMoongate(['credential', 'create', '--email', 'cli@example.com'], env);
      expect(first.code, first.stderr).toBe(0);
      const refused = await runMoongate(['credential', 'create', '--email', 'cli@example.com'], env);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/at most 1 credentials may be active/);
      const forced = await runMoongate(['credential', 'create', '--email', 'cli@example.com', '--over-limit'], env);
      expect(forced.code, forced.stderr).toBe(0);

      const set = await runMoongate(['person', 'limits', '--email', 'cli@example.com', '--credentials', '5', '--concurrency', '3'], env);
      expect(set.code, set.stderr).toBe(0);
      expect(set.stdout).toMatch(/credentials: +5\n/);
      expect(set.stdout).toMatch(/rps: +120 \(default\)\n/);
      expect(set.stdout).toMatch(/concurrency: +3\n/);
      expect((await runMoongate(['credential', 'create', '--email', 'cli@example.com'], env)).code).toBe(0);
      // The running server applies it to the person's next request.
      const token = (await runMoongate(['credential', 'create', '--email', 'cli@example.com'], env)).stdout.trim();
      const { authenticate } = await import('../../src/accounts/authenticate.js');
      expect((await authenticate(`Bearer ${token}`, KIMI_SERVICE.slug, moongate.server.store)).personLimits).toEqual({ rps: null, concurrency: 3 });

      const back = await runMoongate(['person', 'limits', '--email', 'cli@example.com', '--concurrency', 'default'], env);
      expect(back.stdout).toMatch(/concurrency: +\d+ \(default\)/);
      expect((await runMoongate(['person', 'limits', '--email', 'cli@example.com', '--rps', '0'], env)).code).toBe(1);
      expect((await runMoongate(['person', 'limits', '--email', 'nobody@example.com'], env)).code).toBe(1);
    } finally {
      await moongate.close();
    }
  });
});
