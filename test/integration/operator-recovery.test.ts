/**
 * Operator recovery (issue 15, item 12; docs/security.md): the last active operator cannot
 * be demoted or disabled, not even by two operators demoting each other at once, and
 * `moongate admin grant | enable | reset` brings an operator back from the server's shell.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_PASSWORD, ConsoleClient, expectError, uniqueEmail } from '../helpers/console-client.js';
import { ensureBuilt, runMoongate } from '../helpers/moongate-cli.js';
import { describeEachDialect } from '../helpers/postgres.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { useTempDir } from '../helpers/temp-dir.js';

describeEachDialect((target) => {
  let moongate: TestServer;
  let first: { browser: ConsoleClient; id: string };

  beforeAll(async () => {
    const location = target.location();
    moongate = await startTestServer({
      env: { ...(location.databaseUrl === undefined ? {} : { DATABASE_URL: location.databaseUrl }), REGISTRATIONS_PER_HOUR: '1000' },
    });
    first = await ConsoleClient.newPerson(moongate.url, uniqueEmail('operator'), moongate.setupToken);
  });
  afterAll(async () => {
    await moongate?.close();
  });

  const activeAdmins = async (): Promise<string[]> =>
    (await moongate.server.store.db.selectFrom('people').select('id').where('role', '=', 'admin').where('status', '=', 'active').execute()).map((r) => r.id);

  /** A second operator, promoted by the first. */
  const promote = async (): Promise<{ browser: ConsoleClient; id: string }> => {
    const person = await ConsoleClient.newPerson(moongate.url);
    const res = await first.browser.request('PATCH', `/api/admin/people/${person.id}`, { body: { role: 'admin' } });
    expect(res.status, res.text).toBe(200);
    return person;
  };

  it.each([
    ['demote', { role: 'user' }],
    ['disable', { status: 'disabled' }],
  ])('two operators who %s each other at the same moment leave one active operator', async (_, change) => {
    const second = await promote();
    expect((await activeAdmins()).sort()).toEqual([first.id, second.id].sort());
    // In-process, so both are under way at once (over sockets one often finished first).
    const patch = (by: ConsoleClient, id: string) =>
      moongate.server.app
        .inject({
          method: 'PATCH',
          url: `/api/admin/people/${id}`,
          headers: { cookie: `moongate_session=${by.cookie ?? ''}`, 'x-csrf-token': by.csrfToken ?? '', 'content-type': 'application/json' },
          payload: JSON.stringify(change),
        })
        .then((res) => ({ status: res.statusCode, text: res.body }));
    const [a, b] = await Promise.all([patch(first.browser, second.id), patch(second.browser, first.id)]);
    // One wins. The other is refused: as the last active operator's change (400) when both
    // ran together, or as no operator any more (404, the admin area hidden) when it came after.
    const [won, refused] = a.status === 200 ? [a, b] : [b, a];
    expect(won.status, won.text).toBe(200);
    expect([400, 404]).toContain(refused.status);
    if (refused.status === 400) expect(refused.text).toMatch(/last active operator/);
    const left = await activeAdmins();
    expect(left).toHaveLength(1);
    // Whoever is left is the first operator again, for the next case.
    if (left[0] !== first.id) {
      await moongate.server.store.db.updateTable('people').set({ role: 'admin', status: 'active' }).where('id', '=', first.id).execute();
      first = { ...first, browser: new ConsoleClient(moongate.url) };
      const email = (await moongate.server.store.db.selectFrom('people').select('email').where('id', '=', first.id).executeTakeFirstOrThrow()).email;
      expect((await first.browser.login(email, CONSOLE_PASSWORD)).status).toBe(200);
      await moongate.server.store.db.updateTable('people').set({ role: 'user' }).where('role', '=', 'admin').where('id', '!=', first.id).execute();
    } else {
      await moongate.server.store.db.updateTable('people').set({ role: 'user', status: 'active' }).where('id', '=', second.id).execute();
    }
  });

  it('still lets an operator demote or disable another operator when one stays', async () => {
    const second = await promote();
    const res = await first.browser.request('PATCH', `/api/admin/people/${second.id}`, { body: { status: 'disabled', role: 'user' } });
    expect(res.status, res.text).toBe(200);
    expect(await activeAdmins()).toEqual([first.id]);
    expectError(await first.browser.request('PATCH', `/api/admin/people/${first.id}`, { body: { role: 'user' } }), 400, 'bad_request');
  });
});

describe('moongate admin grant, enable and reset', () => {
  const dataDir = useTempDir();
  beforeAll(ensureBuilt, 120_000);

  it('bring a demoted, disabled operator with a forgotten password back into the console', async () => {
    const env = { DATA_DIR: dataDir.path };
    expect((await runMoongate(['admin', 'create', '--email', 'op@example.com', '--password-stdin'], env, 'operator password 1\n')).code).toBe(0);
    const moongate = await startTestServer({ env });
    try {
      const browser = new ConsoleClient(moongate.url);
      expect((await browser.login('op@example.com', 'operator password 1')).status).toBe(200);
      // The lockout: the last operator demoted and disabled (as the race above used to allow).
      await moongate.server.store.db.updateTable('people').set({ role: 'user', status: 'disabled' }).where('email', '=', 'op@example.com').execute();
      expectError(await browser.login('op@example.com', 'operator password 1'), 403, 'disabled');

      const unknown = await runMoongate(['admin', 'grant', '--email', 'nobody@example.com'], env);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toMatch(/no person has the email nobody@example\.com/);

      const grant = await runMoongate(['admin', 'grant', '--email', 'op@example.com'], env);
      expect(grant.code, grant.stderr).toBe(0);
      expect(grant.stderr).toMatch(/is an admin\. To log in, enable them: moongate admin enable --email op@example\.com/);
      const enable = await runMoongate(['admin', 'enable', '--email', 'op@example.com'], env);
      expect(enable.code, enable.stderr).toBe(0);
      const back = await browser.login('op@example.com', 'operator password 1');
      expect(back.status, back.text).toBe(200);
      expect(back.body.person.role).toBe('admin');

      const reset = await runMoongate(['admin', 'reset', '--email', 'op@example.com', '--password-stdin'], env, 'operator password 2\n');
      expect(reset.code, reset.stderr).toBe(0);
      expect(reset.stdout + reset.stderr).not.toContain('operator password 2');
      // The session opened with the old password has ended; the new password logs in.
      expectError(await browser.request('GET', '/api/session'), 401, 'invalid_token');
      expectError(await new ConsoleClient(moongate.url).login('op@example.com', 'operator password 1'), 401, 'invalid_token');
      expect((await new ConsoleClient(moongate.url).login('op@example.com', 'operator password 2')).status).toBe(200);
      const short = await runMoongate(['admin', 'reset', '--email', 'op@example.com', '--password-stdin'], env, 'short\n');
      expect(short.code).toBe(1);

      const listed = await runMoongate(['admin', 'list'], env);
      expect(listed.stdout).toMatch(/op@example\.com\s+per_[0-9a-f]{24}\s+active\s+yes/);
    } finally {
      await moongate.close();
    }
  });
});
