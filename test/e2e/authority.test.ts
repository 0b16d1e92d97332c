/**
 * Issue 15's console pieces in real Chromium against a real server: the one-time setup link
 * makes the operator, the account page lists the person's sessions and logs one out, and the
 * operator's People tab sets a person's limits (docs/security.md).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithBrowser, expectNoPageErrors, screenshot } from '../helpers/browser.js';
import { CONSOLE_PASSWORD, ConsoleClient, uniqueEmail } from '../helpers/console-client.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const poll = <T>(read: () => Promise<T> | T) => expect.poll(read, { timeout: 15_000 });

describeWithBrowser('setup link, sessions and per-person limits', (browser) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ env: { REGISTRATIONS_PER_HOUR: '1000' } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("the setup link registers the operator; the account page lists sessions and logs one out; People sets a person's limits", async () => {
    const page = await browser.newPage();
    const setupUrl = server.server.setupUrl ?? '';
    expect(setupUrl).toMatch(/\/register#setup=/);
    await page.goto(setupUrl);
    await page.getByRole('heading', { name: "Create the operator's account" }).waitFor();
    const email = uniqueEmail('owner');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(CONSOLE_PASSWORD);
    await page.getByRole('button', { name: 'Register' }).click();
    await page.getByRole('link', { name: 'Operator' }).first().waitFor();

    // A second browser (an API client with its own user agent) logs in as the same person.
    const phone = new ConsoleClient(server.url);
    const login = await phone.request('POST', '/api/login', { body: { email, password: CONSOLE_PASSWORD }, headers: { 'user-agent': 'Phone Browser/1.0' } });
    expect(login.status).toBe(200);
    await page.goto(`${server.url}/account`);
    const phoneRow = page.getByRole('row', { name: /Phone Browser\/1\.0/ });
    await phoneRow.waitFor();
    await poll(() => page.getByText('this browser', { exact: true }).count()).toBe(1);
    await screenshot(page, 'account-sessions');
    await phoneRow.getByRole('button', { name: 'Log out' }).click();
    await poll(() => phoneRow.count()).toBe(0);
    expect((await phone.request('GET', '/api/session')).status).toBe(401);

    // The operator sets another person's limits on the People tab.
    const someone = await ConsoleClient.newPerson(server.url);
    await page.goto(`${server.url}/admin?tab=people`);
    await page.getByRole('button', { name: `Limits of ${someone.email}` }).click();
    const form = page.getByRole('form', { name: `Limits of ${someone.email}` });
    await form.getByLabel('Requests at once, all credentials').fill('5');
    await form.getByLabel('Credentials they may hold').fill('3');
    await form.getByRole('button', { name: 'Save limits' }).click();
    await page.getByText(`The limits of ${someone.email} are saved.`).first().waitFor();
    await poll(() => page.getByText('3* credentials · 120/s · 5* at once').count()).toBe(1);
    await screenshot(page, 'admin-person-limits');
    const own = await someone.browser.request<{ personLimits: unknown }>('GET', '/api/credentials');
    expect(own.body.personLimits).toEqual({ credentials: 3, rps: 120, concurrency: 5 });
    expectNoPageErrors(browser);
  });
});
