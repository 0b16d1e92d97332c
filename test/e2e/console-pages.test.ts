/**
 * The console's pages in real Chromium against a real moongate: the API page's Acquire
 * (visitor → register or log in → back → acquired with the token once), login and register
 * errors, the `next` redirect (same site only), credentials, balance, account; phone width
 * and keyboard.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithBrowser, expectNoPageErrors, failedResource, screenshot } from '../helpers/browser.js';
import { ConsoleClient } from '../helpers/console-client.js';
import { ensureBuilt, runMoongate } from '../helpers/moongate-cli.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const PASSWORD = 'correct horse battery';
const ACQUIRE_NEXT = `/register?next=${encodeURIComponent('/?acquire=1')}`;
let people = 0;
const newEmail = (tag: string) => `${tag}-${++people}@example.com`;

describeWithBrowser('the console pages', (browser) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      // Every test registers from 127.0.0.1; the default limit is 10 an hour per address.
      env: { REGISTRATIONS_PER_HOUR: '1000', MOONGATE_FREE_QUOTA: '5.5' },
    });
  });
  afterAll(() => server.close());

  const pathOf = (page: Page) => {
    const url = new URL(page.url());
    return `${url.pathname}${url.search}`;
  };

  /** Someone registered through the API (not the UI), with a client holding their session. */
  async function registered(tag: string): Promise<{ email: string; client: ConsoleClient }> {
    const email = newEmail(tag);
    const client = new ConsoleClient(server.url);
    expect((await client.register(email, PASSWORD)).status).toBe(201);
    return { email, client };
  }

  async function logInViaUi(page: Page, email: string, password = PASSWORD, path = '/login'): Promise<void> {
    await page.goto(`${server.url}${path}`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
  }

  const chatWith = (token: string) =>
    fetch(`${server.url}/kimi/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }] }),
    });

  it('shows the service page to a visitor: endpoint, the seven models with the thinking ones marked, prices', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/`);
    await expect.poll(() => page.getByRole('row').count()).toBe(8);
    const services = (await (await fetch(`${server.url}/api/services`)).json()) as {
      services: Array<{ models: Array<{ id: string; thinking: boolean; price: { input: number } | null }> }>;
    };
    const models = services.services[0]!.models;
    expect(models).toHaveLength(7);
    for (const model of models) {
      const row = page.getByRole('row', { name: new RegExp(`^${model.id.replaceAll('.', '\\.')} `) });
      expect(await row.count()).toBe(1);
      expect(await row.getByText('thinking', { exact: true }).count()).toBe(model.thinking ? 1 : 0);
    }
    // The endpoint line (the highlighted cURL example below it has the URL as a token too).
    expect(await page.getByRole('code').getByText(`${server.url}/kimi/chat/completions`, { exact: true }).count()).toBe(1);
    expect(await page.getByRole('button', { name: 'Acquire' }).isVisible()).toBe(true);
    await screenshot(page, 'api-page');
    expectNoPageErrors(browser);
  });

  it('register via the UI → Acquire → back on / with the token shown once and the free quota visible', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/`);
    await page.getByRole('button', { name: 'Acquire' }).click();
    await expect.poll(() => pathOf(page)).toBe(ACQUIRE_NEXT);
    await screenshot(page, 'register-page');

    const email = newEmail('acquirer');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Register' }).click();

    // Straight back to the API page, with the Acquire done and ?acquire=1 dropped.
    const tokenBox = page.getByTestId('new-token');
    await tokenBox.waitFor();
    expect(pathOf(page)).toBe('/');
    const token = (await tokenBox.textContent()) ?? '';
    expect(token).toMatch(/^mg-/);
    expect(await page.getByText('Acquired', { exact: true }).isVisible()).toBe(true);
    await expect.poll(() => page.getByText('5.50 USD').isVisible()).toBe(true);
    await expect.poll(() => page.getByText('Copy this token now.').isVisible()).toBe(true);
    await screenshot(page, 'api-page-acquired');

    // The token is real: it calls the API and draws on the free quota.
    expect((await chatWith(token)).status).toBe(200);

    // Shown once: a reload shows the acquired state and links, no token.
    await page.reload();
    await page.getByText('Acquired', { exact: true }).waitFor();
    expect(await page.getByTestId('new-token').count()).toBe(0);
    expect(await page.getByRole('link', { name: 'Try it in the playground' }).getAttribute('href')).toBe('/playground');
    expect(await page.getByRole('main').getByRole('link', { name: 'Credentials' }).getAttribute('href')).toBe('/credentials');
    expect(await page.content()).not.toContain(token);
    expectNoPageErrors(browser);
  });

  it('logged out, Acquire goes to register, "log in instead" keeps next, and logging in comes back and acquires', async () => {
    const { email } = await registered('returning');
    const page = await browser.newPage();
    await page.goto(`${server.url}/`);
    await page.getByRole('button', { name: 'Acquire' }).click();
    await expect.poll(() => pathOf(page)).toBe(ACQUIRE_NEXT);
    await page.getByRole('link', { name: 'Log in instead' }).click();
    await expect.poll(() => pathOf(page)).toBe(`/login?next=${encodeURIComponent('/?acquire=1')}`);
    await screenshot(page, 'login-page');

    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByTestId('new-token').waitFor();
    expect(pathOf(page)).toBe('/');

    // Log out from the header, and the API page is a visitor's again.
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('button', { name: 'Acquire' }).waitFor();
    expect(await page.getByTestId('new-token').count()).toBe(0);
    expectNoPageErrors(browser);
  });

  it('shows the API errors on login and register: wrong password, email taken, throttled with its wait', async () => {
    const { email } = await registered('mistyped');
    const page = await browser.newPage();
    await logInViaUi(page, email, 'not the password');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('The email or password is wrong.');
    expect(await alert.textContent()).toMatch(/trace id \S+/);
    expect(pathOf(page)).toBe('/login');
    await screenshot(page, 'login-wrong-password');

    // Four more failures use up the email's five; the sixth try is refused even with the right password.
    for (let i = 0; i < 4; i++) {
      expect((await new ConsoleClient(server.url).login(email, 'still wrong')).status).toBe(401);
    }
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect.poll(async () => (await page.getByRole('alert').textContent()) ?? '').toMatch(/Try again in \d+ (seconds|minutes)\./);

    await page.goto(`${server.url}/register`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Register' }).click();
    await page.getByRole('alert').waitFor();
    expect(pathOf(page)).toBe('/register');
    expect(await page.getByRole('alert').textContent()).toMatch(/already registered/i);
    expectNoPageErrors(browser, [failedResource(401), failedResource(429), failedResource(400)]);
  });

  it('refuses to send anyone to another site after login (open redirect)', async () => {
    const { email } = await registered('redirected');
    for (const next of ['//evil.example', '/\\evil.example', 'https://evil.example/', '/%2F/evil.example']) {
      const page = await browser.newPage();
      await logInViaUi(page, email, PASSWORD, `/login?next=${encodeURIComponent(next)}`);
      await page.getByRole('button', { name: 'Log out' }).waitFor();
      const url = new URL(page.url());
      expect(url.origin).toBe(server.url);
      expect(url.pathname.startsWith('//')).toBe(false);
      await page.close();
    }
    // A path on this site is honoured.
    const page = await browser.newPage();
    await logInViaUi(page, email, PASSWORD, `/login?next=${encodeURIComponent('/balance')}`);
    await expect.poll(() => pathOf(page)).toBe('/balance');
    expectNoPageErrors(browser);
  });

  it('creates a credential with its token shown once, and revokes it after a confirmation', async () => {
    const { email, client } = await registered('keeper');
    expect((await client.request('POST', '/api/services/kimi-chat-completions/acquire')).status).toBe(201);
    const page = await browser.newPage();
    await logInViaUi(page, email);
    await page.getByRole('button', { name: 'Log out' }).waitFor();
    await page.goto(`${server.url}/credentials`);
    await page.getByRole('row', { name: /^default\b/ }).waitFor();

    await page.getByLabel('Name').fill('ci-laptop');
    await page.getByLabel('Expires').selectOption({ label: 'In 30 days' });
    await page.getByRole('button', { name: 'Create credential' }).click();
    const token = (await (await page.getByTestId('new-token').elementHandle())!.textContent()) ?? '';
    expect(token).toMatch(/^mg-/);
    const row = page.getByRole('row', { name: /^ci-laptop\b/ });
    await row.waitFor();
    expect(await row.textContent()).toContain(token.slice(0, 10));
    expect(await row.getByText('active', { exact: true }).count()).toBe(1);
    const { defaults } = (await client.request<{ defaults: { rps: number; concurrency: number } }>('GET', '/api/credentials')).body;
    expect(await row.getByRole('cell', { name: `default (${defaults.rps}/s)`, exact: true }).count()).toBe(1);
    expect(await row.getByRole('cell', { name: `default (${defaults.concurrency})`, exact: true }).count()).toBe(1);
    await screenshot(page, 'credentials-page');
    expect((await chatWith(token)).status).toBe(200);

    // The person dismisses the token: it is gone from the page.
    await page.getByRole('button', { name: 'I have copied it' }).click();
    expect(await page.content()).not.toContain(token);

    // Cancel changes nothing; confirming revokes, and the token stops working.
    await page.getByRole('button', { name: 'Revoke ci-laptop' }).click();
    const dialog = page.getByRole('dialog', { name: 'Revoke ci-laptop?' });
    await dialog.waitFor();
    await screenshot(page, 'credentials-revoke-dialog');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect(await row.getByText('active', { exact: true }).count()).toBe(1);
    await page.getByRole('button', { name: 'Revoke ci-laptop' }).click();
    await dialog.getByRole('button', { name: 'Revoke' }).click();
    await row.getByText('revoked', { exact: true }).waitFor();
    expect(await page.getByRole('button', { name: 'Revoke ci-laptop' }).count()).toBe(0);
    expect((await chatWith(token)).status).toBe(401);
    const listed = await client.request<{ credentials: Array<{ name: string; status: string }> }>('GET', '/api/credentials');
    expect(listed.body.credentials.map((c) => [c.name, c.status])).toEqual([
      ['default', 'active'],
      ['ci-laptop', 'revoked'],
    ]);

    // Limits the operator set show as they are, read-only.
    const { person } = (await client.request<{ person: { id: string } }>('GET', '/api/session')).body;
    await server.server.store.db
      .updateTable('credentials')
      .set({ rps_limit: 7, concurrency_limit: 3 })
      .where('person_id', '=', person.id)
      .where('name', '=', 'default')
      .execute();
    await page.reload();
    const defaultRow = page.getByRole('row', { name: /^default\b/ });
    await defaultRow.getByRole('cell', { name: '7/s', exact: true }).waitFor();
    expect(await defaultRow.getByRole('cell', { name: '3', exact: true }).count()).toBe(1);
    expect(await page.getByRole('spinbutton').count()).toBe(0);
    await screenshot(page, 'credentials-page-limits');
    expectNoPageErrors(browser);
  });

  it('shows a person only their own credentials', async () => {
    const alice = await registered('alice');
    const bob = await registered('bob');
    const made = await alice.client.request<{ credential: { tokenPrefix: string } }>('POST', '/api/credentials', {
      body: { name: 'alice-secret-box' },
    });
    expect(made.status).toBe(201);
    const page = await browser.newPage();
    await logInViaUi(page, bob.email);
    await page.getByRole('button', { name: 'Log out' }).waitFor();
    await page.goto(`${server.url}/credentials`);
    await page.getByText('No credentials yet.').waitFor();
    expect(await page.getByText('alice-secret-box').count()).toBe(0);
    expect(await page.content()).not.toContain(made.body.credential.tokenPrefix);
    await screenshot(page, 'credentials-empty');
    expectNoPageErrors(browser);
  });

  it('shows the balance page with the quota, balance and held amounts the API reports', async () => {
    const { email, client } = await registered('saver');
    expect((await client.request('POST', '/api/services/kimi-chat-completions/acquire')).status).toBe(201);
    const page = await browser.newPage();
    await logInViaUi(page, email);
    await page.getByRole('button', { name: 'Log out' }).waitFor();
    await page.goto(`${server.url}/balance`);
    await page.getByTestId('stat-quota').waitFor();
    expect(await page.getByTestId('stat-quota').textContent()).toBe('5.50 USD');
    expect(await page.getByTestId('stat-balance').textContent()).toBe('0.00 USD');
    expect(await page.getByTestId('stat-held').textContent()).toBe('0.00 USD');
    expect(await page.getByRole('link', { name: 'See usage' }).getAttribute('href')).toBe('/usage');
    await screenshot(page, 'balance-page');
    expectNoPageErrors(browser);
  });

  it('redeems a top-up code made with the real CLI: the balance goes up by exactly its amount', async () => {
    await ensureBuilt();
    const made = await runMoongate(['code', 'create', '--amount', '3.25', '--count', '1', '--json'], {
      DATA_DIR: server.dataDir,
      DATABASE_URL: undefined,
    });
    expect(made.code, made.stderr).toBe(0);
    const [{ code, amount }] = JSON.parse(made.stdout) as [{ code: string; amount: number }];
    expect(amount).toBe(3_250_000);

    const { email, client } = await registered('topper');
    const before = (await client.request<{ balance: number }>('GET', '/api/balance')).body.balance;
    const page = await browser.newPage();
    await logInViaUi(page, email);
    await page.getByRole('button', { name: 'Log out' }).waitFor();
    await page.goto(`${server.url}/balance`);
    await page.getByTestId('stat-balance').waitFor();
    expect(await page.getByTestId('stat-balance').textContent()).toBe('0.00 USD');

    // Lower case and without dashes, as a person might type it.
    await page.getByLabel('Code', { exact: true }).fill(code.toLowerCase().replaceAll('-', ''));
    await page.getByRole('button', { name: 'Redeem' }).click();
    await page.getByText('Credited 3.25 USD to your balance.').waitFor();
    expect(await page.getByTestId('stat-balance').textContent()).toBe('3.25 USD');
    const after = (await client.request<{ balance: number }>('GET', '/api/balance')).body.balance;
    expect(after - before).toBe(3_250_000);
    await screenshot(page, 'balance-redeemed');

    // Twice is refused with the API's message, and the balance stays.
    await page.getByLabel('Code', { exact: true }).fill(code);
    await page.getByRole('button', { name: 'Redeem' }).click();
    await page.getByText('This code is not valid or has already been used.').waitFor();
    expect(await page.getByTestId('stat-balance').textContent()).toBe('3.25 USD');
    expect((await client.request<{ balance: number }>('GET', '/api/balance')).body.balance).toBe(after);
    expectNoPageErrors(browser, [failedResource(400)]);
  });

  it('changes the password on the account page, which logs out every other session', async () => {
    const { email, client: otherBrowser } = await registered('mover');
    const page = await browser.newPage();
    await logInViaUi(page, email);
    await page.getByRole('button', { name: 'Log out' }).waitFor();
    await page.goto(`${server.url}/account`);
    await page.getByLabel('Current password').fill('not it at all');
    await page.getByLabel('New password', { exact: true }).fill('a brand new secret');
    await page.getByLabel('New password again').fill('a brand new secret');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toContain('current');

    await page.getByLabel('Current password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('Password changed. Every other session is logged out.').waitFor();
    await screenshot(page, 'account-page');
    expect((await otherBrowser.request('GET', '/api/session')).status).toBe(401);
    // This browser stays logged in.
    await page.reload();
    await page.getByRole('heading', { name: 'Change password and log out everywhere else' }).waitFor();
    expect((await new ConsoleClient(server.url).login(email, 'a brand new secret')).status).toBe(200);
    // The wrong current password's 400.
    expectNoPageErrors(browser, [failedResource(400)]);
  });

  it('fits a 375 px wide phone without horizontal scrolling', async () => {
    const { email } = await registered('phone');
    const page = await browser.newPage({ width: 375, height: 812 });
    // How far the page scrolls sideways (the test's tsconfig has no DOM types, hence the string).
    const overflow = () => page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    await page.goto(`${server.url}/`);
    await expect.poll(() => page.getByRole('row').count()).toBe(8);
    expect(await overflow()).toBe(0);
    await screenshot(page, 'api-page-phone');

    await logInViaUi(page, email, PASSWORD, `/login?next=${encodeURIComponent('/?acquire=1')}`);
    await page.getByTestId('new-token').waitFor();
    expect(await overflow()).toBe(0);
    await screenshot(page, 'api-page-phone-acquired');
    for (const path of ['/credentials', '/balance', '/account']) {
      await page.goto(`${server.url}${path}`);
      await page.getByRole('heading', { level: 1 }).waitFor();
      await page.waitForLoadState('networkidle');
      expect(await overflow(), path).toBe(0);
    }
    expectNoPageErrors(browser);
  });

  it('reaches Acquire with Tab and activates it with Enter', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/`);
    const acquire = page.getByRole('button', { name: 'Acquire' });
    await acquire.waitFor();
    let presses = 0;
    while (!(await acquire.evaluate((element) => element.matches(':focus')))) {
      expect(++presses, 'Tab presses before Acquire has focus').toBeLessThan(40);
      await page.keyboard.press('Tab');
    }
    await page.keyboard.press('Enter');
    await expect.poll(() => pathOf(page)).toBe(ACQUIRE_NEXT);
    expectNoPageErrors(browser);
  });
});
