/** `moongate admin create`, run the way an operator runs it, then a console login with that password. */
import { beforeAll, describe, expect, it } from 'vitest';
import { ConsoleClient } from '../helpers/console-client.js';
import { ensureBuilt, runMoongate } from '../helpers/moongate-cli.js';
import { startTestServer } from '../helpers/test-server.js';
import { useTempDir } from '../helpers/temp-dir.js';

beforeAll(ensureBuilt, 120_000);

describe('moongate admin create', () => {
  const dataDir = useTempDir();

  it('makes an admin whose password (read from stdin) logs in to the console; later registrants are users', async () => {
    const run = await runMoongate(['admin', 'create', '--email', 'Op@Example.com', '--password-stdin'], { DATA_DIR: dataDir.path }, 'operator password 1\n');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/op@example\.com \(per_[0-9a-f]{24}\) is an admin/);
    expect(run.stdout + run.stderr).not.toContain('operator password 1');

    const moongate = await startTestServer({ env: { DATA_DIR: dataDir.path } });
    try {
      const browser = new ConsoleClient(moongate.server.app);
      const login = await browser.login('op@example.com', 'operator password 1');
      expect(login.status, login.text).toBe(200);
      expect(login.body.person.role).toBe('admin');
      // An admin exists, so the first person to register is an ordinary user.
      const registered = await new ConsoleClient(moongate.server.app).register('first@example.com', 'a fine password');
      expect(registered.body.person.role).toBe('user');
    } finally {
      await moongate.close();
    }
  });

  it('refuses a password that breaks the rules, and a missing one', async () => {
    const short = await runMoongate(['admin', 'create', '--email', 'op2@example.com', '--password-stdin'], { DATA_DIR: dataDir.path }, 'short\n');
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/password must be 8 to 256 characters/);
    expect(short.stderr).not.toMatch(/^\s+at /m);
    const empty = await runMoongate(['admin', 'create', '--email', 'op2@example.com', '--password-stdin'], { DATA_DIR: dataDir.path }, '');
    expect(empty.code).toBe(1);
  });
});
