/**
 * Hosts and the first operator (issue 15, item 11; docs/security.md): the console API
 * answers only to a host that is its own (PUBLIC_URL, localhost or an IP address), compares
 * Origin's scheme too, and the first operator is made only through the setup link that
 * `moongate serve` prints on a fresh install, never by the first registration.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_PASSWORD, ConsoleClient, expectError, uniqueEmail } from '../helpers/console-client.js';
import { ensureBuilt, runMoongate, spawnMoongate } from '../helpers/moongate-cli.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { useTempDir } from '../helpers/temp-dir.js';

interface Injected {
  statusCode: number;
  body: string;
}

describe('the console API and its hosts', () => {
  let moongate: TestServer;
  let port: string;
  const inject = (method: 'GET' | 'POST', url: string, headers: Record<string, string>, body?: unknown): Promise<Injected> =>
    moongate.server.app.inject({ method, url, headers: { ...headers, 'content-type': 'application/json' }, ...(body === undefined ? {} : { payload: JSON.stringify(body) }) });

  beforeAll(async () => {
    moongate = await startTestServer({ env: { REGISTRATIONS_PER_HOUR: '1000' } });
    port = new URL(moongate.url).port;
  });
  afterAll(async () => {
    await moongate?.close();
  });

  it('refuses a DNS-rebinding registration (Host and Origin agree on a foreign name) on a fresh install, and makes nobody', async () => {
    const rebound = { host: `attacker.example:${port}`, origin: `http://attacker.example:${port}` };
    const email = uniqueEmail('rebound');
    const res = await inject('POST', '/api/register', rebound, { email, password: CONSOLE_PASSWORD });
    expect(res.statusCode, res.body).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ success: false, error: { code: 'bad_request' } });
    expect(res.body).toMatch(/PUBLIC_URL/);
    // Not even with the setup token (if a page ever had it): the host is refused first.
    const withToken = await inject('POST', '/api/register', rebound, { email, password: CONSOLE_PASSWORD, setupToken: moongate.setupToken });
    expect(withToken.statusCode).toBe(400);
    // Reads too: a rebinding page must not read the console API either.
    expect((await inject('GET', '/api/session?optional=true', rebound)).statusCode).toBe(400);
    expect(await moongate.server.store.db.selectFrom('people').select('id').where('email', '=', email).executeTakeFirst()).toBeUndefined();
  });

  it('accepts localhost and IP addresses as hosts, and compares the scheme of Origin', async () => {
    const local = await inject('POST', '/api/register', { host: `localhost:${port}`, origin: `http://localhost:${port}` }, { email: uniqueEmail(), password: CONSOLE_PASSWORD });
    expect(local.statusCode, local.body).toBe(201);
    const v6 = await inject('GET', '/api/session?optional=true', { host: `[::1]:${port}` });
    expect(v6.statusCode, v6.body).toBe(200);
    const wrongScheme = await new ConsoleClient(moongate.url).request('POST', '/api/login', {
      body: { email: uniqueEmail(), password: CONSOLE_PASSWORD },
      headers: { origin: `https://127.0.0.1:${port}` },
    });
    expectError(wrongScheme, 400, 'bad_request');
    expect(wrongScheme.text).toMatch(/origin/);
  });

  it('with PUBLIC_URL, answers to its host and origin, and refuses other names', async () => {
    const behindProxy = await startTestServer({ env: { PUBLIC_URL: 'https://moongate.example.com/' } });
    try {
      const app = behindProxy.server.app;
      const register = (host: string, origin: string) =>
        app.inject({
          method: 'POST',
          url: '/api/register',
          headers: { host, origin, 'content-type': 'application/json' },
          payload: JSON.stringify({ email: uniqueEmail(), password: CONSOLE_PASSWORD }),
        });
      // A TLS proxy forwards plain http: the Origin is the public https one.
      const ok = await register('moongate.example.com', 'https://moongate.example.com');
      expect(ok.statusCode, ok.body).toBe(201);
      expect((await register('moongate.example.com', 'http://moongate.example.com')).statusCode).toBe(400);
      expect((await register('other.example.com', 'https://other.example.com')).statusCode).toBe(400);
      expect((await register('moongate.example.com', 'https://other.example.com')).statusCode).toBe(400);
      // The setup link is printed with the public address.
      expect(behindProxy.server.setupUrl).toMatch(/^https:\/\/moongate\.example\.com\/register#setup=[A-Za-z0-9_-]{43}$/);
    } finally {
      await behindProxy.close();
    }
  });

  it('refuses a PUBLIC_URL that is not an http(s) origin', async () => {
    await expect(startTestServer({ env: { PUBLIC_URL: 'https://moongate.example.com/console' } })).rejects.toThrow(/PUBLIC_URL/);
    await expect(startTestServer({ env: { PUBLIC_URL: 'ftp://moongate.example.com' } })).rejects.toThrow(/PUBLIC_URL/);
  });
});

describe('moongate serve on a fresh install', () => {
  const dataDir = useTempDir();
  beforeAll(ensureBuilt, 120_000);

  /** Starts `moongate serve`, returns what it printed up to the token hint, and stops it. */
  const serveOnce = async (): Promise<string> => {
    const child = spawnMoongate(['serve'], { DATA_DIR: dataDir.path, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn' });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    try {
      for await (const chunk of child.stdout) {
        stdout += chunk as string;
        if (stdout.includes('a token:')) break;
      }
      return stdout;
    } finally {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }
  };

  it('prints a one-time setup link beside the console line; registering through it makes the operator; later starts print none', async () => {
    const printed = await serveOnce();
    const url = /listening on (http:\/\/\S+)/.exec(printed)?.[1];
    const setup = /setup: {4}open (http:\/\/\S+\/register#setup=([A-Za-z0-9_-]{43}))/.exec(printed);
    expect(url, printed).toBeDefined();
    expect(setup, printed).not.toBeNull();
    expect(setup?.[1]?.startsWith(`${url}/register#setup=`)).toBe(true);

    // The link belongs to that process: on a new start with still no operator, a new one.
    const child = spawnMoongate(['serve'], { DATA_DIR: dataDir.path, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn' });
    try {
      let stdout = '';
      child.stdout.setEncoding('utf8');
      for await (const chunk of child.stdout) {
        stdout += chunk as string;
        if (stdout.includes('a token:')) break;
      }
      const live = /listening on (http:\/\/\S+)/.exec(stdout)?.[1] ?? '';
      const token = /#setup=([A-Za-z0-9_-]{43})/.exec(stdout)?.[1];
      expect(token).toBeDefined();
      expect(token).not.toBe(setup?.[2]);
      // The old process's token is worthless here; this one's makes the operator, once.
      expectError(await new ConsoleClient(live).register(uniqueEmail(), CONSOLE_PASSWORD, setup?.[2]), 400, 'bad_request');
      const plain = await new ConsoleClient(live).register(uniqueEmail(), CONSOLE_PASSWORD);
      expect(plain.body.person.role).toBe('user');
      const operator = await new ConsoleClient(live).register('owner@example.com', CONSOLE_PASSWORD, token);
      expect(operator.status, operator.text).toBe(201);
      expect(operator.body.person.role).toBe('admin');
    } finally {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }

    const after = await serveOnce();
    expect(after).toMatch(/listening on/);
    expect(after).not.toMatch(/setup:/);
    const listed = await runMoongate(['admin', 'list'], { DATA_DIR: dataDir.path });
    expect(listed.stdout).toMatch(/owner@example\.com\s+per_[0-9a-f]{24}\s+active\s+yes/);
  });
});
