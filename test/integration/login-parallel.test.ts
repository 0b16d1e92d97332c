/**
 * The login throttle against parallel guessing (issue 15, item 7), over real HTTP: attempts
 * are counted before the password is checked, checks in flight are capped, and an
 * oversized password is refused before it is hashed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_PASSWORD, ConsoleClient, expectError } from '../helpers/console-client.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

describe('login throttle under parallel guessing', () => {
  let moongate: TestServer;

  beforeAll(async () => {
    moongate = await startTestServer({ env: { REGISTRATIONS_PER_HOUR: '1000' } });
  });
  afterAll(async () => {
    await moongate?.close();
  });

  it('20 simultaneous guesses at one email: at most 5 are checked, and the right password among them is not let in', async () => {
    const { email } = await ConsoleClient.newPerson(moongate.url);
    const guesses = Array.from({ length: 19 }, (_, i) => `wrong guess ${i}`);
    guesses.push(CONSOLE_PASSWORD);
    const answers = await Promise.all(guesses.map((password) => new ConsoleClient(moongate.url).login(email, password)));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(5);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(15);
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    expect(answers.at(-1)?.status).toBe(429);
    for (const answer of answers.filter((a) => a.status === 429)) {
      expectError(answer, 429, 'too_many_requests');
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(answer.setCookies).toEqual([]);
    }
  });

  it('refuses a password longer than 256 characters with 400 before hashing it, at login and at a password change', async () => {
    const { browser, email } = await ConsoleClient.newPerson(moongate.url);
    const huge = 'x'.repeat(8 * 1024 * 1024);
    const login = await new ConsoleClient(moongate.url).login(email, huge);
    expectError(login, 400, 'bad_request');
    expect(login.text).toMatch(/at most 256 characters/);
    expect(login.text).not.toContain('xxxxxxxx');
    const change = await browser.request('POST', '/api/password', { body: { current: huge, next: 'a brand new password' } });
    expectError(change, 400, 'bad_request');
    // Neither was counted as a failed guess: the right password still logs in.
    expect((await new ConsoleClient(moongate.url).login(email, CONSOLE_PASSWORD)).status).toBe(200);
  });
});
