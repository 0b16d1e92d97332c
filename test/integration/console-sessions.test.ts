/**
 * A person's console sessions (issue 15, item 13; docs/console-api.md, "Sessions"): listed
 * and ended by their person only, and capped per person (SESSIONS_PER_PERSON), the least
 * recently used ending first.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CONSOLE_PASSWORD, ConsoleClient, expectError } from '../helpers/console-client.js';
import { describeEachDialect } from '../helpers/postgres.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

interface SessionJson {
  id: string;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  userAgent: string | null;
  current: boolean;
}

describeEachDialect((target) => {
  let moongate: TestServer;

  beforeAll(async () => {
    const location = target.location();
    moongate = await startTestServer({
      env: {
        ...(location.databaseUrl === undefined ? {} : { DATABASE_URL: location.databaseUrl }),
        REGISTRATIONS_PER_HOUR: '1000',
        SESSIONS_PER_PERSON: '3',
      },
    });
  });
  afterAll(async () => {
    await moongate?.close();
  });

  /** Logs the person in from a new browser with this user agent. */
  const loginFrom = async (email: string, userAgent: string): Promise<ConsoleClient> => {
    const browser = new ConsoleClient(moongate.url);
    const res = await browser.request('POST', '/api/login', { body: { email, password: CONSOLE_PASSWORD }, headers: { 'user-agent': userAgent } });
    expect(res.status, res.text).toBe(200);
    return browser;
  };

  it('lists the live sessions with the current one marked, never a cookie or CSRF token, and ends one', async () => {
    const { browser: laptop, email } = await ConsoleClient.newPerson(moongate.url);
    const phone = await loginFrom(email, 'Phone Browser/1.0');
    const listed = await laptop.request<{ sessions: SessionJson[] }>('GET', '/api/sessions');
    expect(listed.status, listed.text).toBe(200);
    expect(listed.body.sessions).toHaveLength(2);
    expect(listed.body.sessions.filter((s) => s.current)).toHaveLength(1);
    const phoneSession = listed.body.sessions.find((s) => s.userAgent === 'Phone Browser/1.0');
    expect(phoneSession?.current).toBe(false);
    for (const secret of [laptop.cookie, phone.cookie, laptop.csrfToken, phone.csrfToken]) expect(listed.text).not.toContain(secret);

    // Someone else cannot see or end it.
    const stranger = await ConsoleClient.newPerson(moongate.url);
    const theirs = await stranger.browser.request<{ sessions: SessionJson[] }>('GET', '/api/sessions');
    expect(theirs.body.sessions.map((s) => s.id)).not.toContain(phoneSession?.id);
    expectError(await stranger.browser.request('DELETE', `/api/sessions/${phoneSession?.id ?? ''}`), 404, 'no_api');
    expect((await phone.request('GET', '/api/session')).status).toBe(200);

    // CSRF-guarded like every change.
    expectError(await laptop.request('DELETE', `/api/sessions/${phoneSession?.id ?? ''}`, { csrf: false }), 400, 'bad_request');
    const ended = await laptop.request('DELETE', `/api/sessions/${phoneSession?.id ?? ''}`);
    expect(ended.status, ended.text).toBe(204);
    expectError(await phone.request('GET', '/api/session'), 401, 'invalid_token');
    expectError(await laptop.request('DELETE', `/api/sessions/${phoneSession?.id ?? ''}`), 404, 'no_api');

    // Ending the current one is a logout.
    const current = (await laptop.request<{ sessions: SessionJson[] }>('GET', '/api/sessions')).body.sessions.find((s) => s.current);
    const self = await laptop.request('DELETE', `/api/sessions/${current?.id ?? ''}`);
    expect(self.status).toBe(204);
    expect(self.setCookies[0]).toMatch(/^moongate_session=;/);
    expectError(await laptop.request('GET', '/api/sessions'), 401, 'invalid_token');
  });

  it('holds at most SESSIONS_PER_PERSON sessions per person: a new login ends the least recently used', async () => {
    const { browser: first, email } = await ConsoleClient.newPerson(moongate.url);
    const browsers = [first];
    for (let i = 1; i <= 4; i++) browsers.push(await loginFrom(email, `Browser ${i}`));
    const live = await Promise.all(browsers.map(async (b) => (await b.request('GET', '/api/session')).status));
    expect(live).toEqual([401, 401, 200, 200, 200]);
    const listed = await browsers[4]?.request<{ sessions: SessionJson[] }>('GET', '/api/sessions');
    expect(listed?.body.sessions.map((s) => s.userAgent).sort()).toEqual(['Browser 2', 'Browser 3', 'Browser 4']);
    const rows = await moongate.server.store.db.selectFrom('sessions').innerJoin('people', 'people.id', 'sessions.person_id').select('sessions.id').where('people.email', '=', email).execute();
    expect(rows).toHaveLength(3);
  });
});
