/**
 * The usage page and the operator area in real Chromium against a real server: requests
 * made with real tokens on two models show up in the charts and the table with the trace
 * ids the API returned; filters narrow the table; another person's requests never appear;
 * the operator's people, credentials and prices tabs act through the real /api/admin API.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithBrowser, expectNoPageErrors, screenshot, type TestBrowser } from '../helpers/browser.js';
import { ConsoleClient } from '../helpers/console-client.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/** Waits for the page to get there (the API and React take their time on a busy machine). */
const poll = <T>(read: () => Promise<T> | T) => expect.poll(read, { timeout: 15_000 });

const PASSWORD = 'correct horse battery staple';
const MODELS = ['kimi-k2.5', 'kimi-k2-turbo-preview'] as const;

interface Person {
  client: ConsoleClient;
  token: string;
  credentialId: string;
  traceIds: Record<string, string[]>;
}

/** Registers a person through the console API and acquires the Kimi service (its first token). */
async function register(server: TestServer, email: string, setupToken?: string): Promise<Person> {
  const client = new ConsoleClient(server.url);
  expect((await client.register(email, PASSWORD, setupToken)).status).toBe(201);
  const acquired = await client.request<{ credential: { id: string }; token: string }>('POST', '/api/services/kimi-chat-completions/acquire', {
    body: {},
  });
  expect(acquired.status).toBe(201);
  return { client, token: acquired.body.token, credentialId: acquired.body.credential.id, traceIds: {} };
}

/** A real call to the chat API with the person's token; returns the x-trace-id. */
async function chat(server: TestServer, token: string, model: string, stream = false): Promise<Response> {
  return fetch(`${server.url}/kimi/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ model, stream, max_tokens: 16, messages: [{ role: 'user', content: `hello ${model}` }] }),
  });
}

async function makeRequests(server: TestServer, person: Person, model: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const response = await chat(server, person.token, model, i % 2 === 1);
    expect(response.status).toBe(200);
    await response.text();
    const traceId = response.headers.get('x-trace-id');
    expect(traceId).toBeTruthy();
    (person.traceIds[model] ??= []).push(traceId as string);
  }
}

/** Closed before the server, so no browser connection keeps the server's close waiting. */
const openPages: Page[] = [];

/** A page whose browser context carries the person's session cookie (logged in, no login page needed). */
async function pageAs(browser: TestBrowser, server: TestServer, person: Person, size?: { width: number; height: number }): Promise<Page> {
  const page = await browser.newPage(size);
  openPages.push(page);
  await page.context().addCookies([
    { name: 'moongate_session', value: person.client.cookie as string, url: server.url, httpOnly: true, sameSite: 'Lax' },
  ]);
  return page;
}

function requestsTable(page: Page) {
  return page.getByRole('table', { name: 'Recent requests, newest first' });
}

describeWithBrowser('usage page and operator area', (browser) => {
  let server: TestServer;
  let admin: Person;
  let ada: Person;
  let bob: Person;

  beforeAll(async () => {
    server = await startTestServer();
    // A fresh install: the operator registers through the one-time setup link it printed.
    admin = await register(server, 'operator@example.com', server.setupToken);
    ada = await register(server, 'ada-usage@example.com');
    bob = await register(server, 'bob-usage@example.com');
    await makeRequests(server, ada, MODELS[0], 3);
    await makeRequests(server, ada, MODELS[1], 2);
    await makeRequests(server, bob, MODELS[0], 2);
  });
  afterAll(async () => {
    await Promise.all(openPages.map((page) => page.context().close()));
    await server.close();
  });

  it('shows a person the charts per model and their requests with the trace ids the API returned', async () => {
    const page = await pageAs(browser, server, ada);
    await page.goto(`${server.url}/usage`);
    await poll(() => page.getByRole('heading', { name: 'Usage', level: 1 }).isVisible()).toBe(true);

    const requestsChart = page.getByRole('figure', { name: 'Requests per day' });
    await poll(() => requestsChart.locator('svg').first().isVisible()).toBe(true);
    for (const model of MODELS) {
      // The legend (a list) names each model, in every chart.
      for (const name of ['Requests per day', 'Tokens per day', 'Cost per day (USD)']) {
        await poll(() => page.getByRole('figure', { name }).getByRole('list').getByText(model, { exact: true }).count()).toBe(1);
      }
    }
    // Today's bars: one stacked bar segment per model.
    await poll(() => requestsChart.locator('svg path.recharts-rectangle').count()).toBe(2);

    // The chart's numbers, folded under it: per model, summed over the days listed.
    await requestsChart.getByText('The numbers').click();
    const numbers = requestsChart.getByRole('table', { name: 'Requests per day, by day and model' });
    await poll(() => numbers.isVisible()).toBe(true);
    const headers = await numbers.getByRole('columnheader').allTextContents();
    expect(headers.slice(1).sort()).toEqual([...MODELS].sort());
    const sums = [0, 0];
    for (const dayRow of await numbers.getByRole('row').all()) {
      const cells = await dayRow.getByRole('cell').allTextContents();
      cells.forEach((text, i) => (sums[i] = (sums[i] ?? 0) + Number(text)));
    }
    expect(Object.fromEntries(headers.slice(1).map((model, i) => [model, sums[i]]))).toEqual({ [MODELS[0]]: 3, [MODELS[1]]: 2 });

    // Totals: 5 requests.
    await poll(() => page.getByRole('group', { name: 'Requests', exact: true }).textContent()).toBe('Requests5');

    const table = requestsTable(page);
    await poll(() => table.getByRole('row').count()).toBe(1 + 5);
    for (const model of MODELS) {
      for (const traceId of ada.traceIds[model] ?? []) {
        const row = table.getByRole('row').filter({ hasText: traceId });
        expect(await row.count()).toBe(1);
        expect(await row.textContent()).toContain(model);
        expect(await row.textContent()).toContain('completed');
      }
    }
    // Isolation through the UI: bob's requests never show on ada's page.
    for (const traceId of bob.traceIds[MODELS[0]] ?? []) {
      expect(await page.getByText(traceId).count()).toBe(0);
    }
    await screenshot(page, 'usage');

    // Filtering by model narrows the table to that model's requests.
    await page.getByLabel('Model').selectOption(MODELS[1]);
    await poll(() => table.getByRole('row').count()).toBe(1 + 2);
    for (const traceId of ada.traceIds[MODELS[1]] ?? []) {
      expect(await table.getByRole('row').filter({ hasText: traceId }).count()).toBe(1);
    }
    for (const traceId of ada.traceIds[MODELS[0]] ?? []) {
      expect(await table.getByText(traceId).count()).toBe(0);
    }
    // A status nobody has: the empty text, not a broken table.
    await page.getByLabel('Status').selectOption('failed');
    await poll(() => page.getByText('No requests match these filters').isVisible()).toBe(true);
    expectNoPageErrors(browser);
  });

  it('shows a request made after the page opened once Refresh is pressed', async () => {
    const page = await pageAs(browser, server, bob);
    await page.goto(`${server.url}/usage`);
    const table = requestsTable(page);
    await poll(() => table.getByRole('row').count()).toBe(1 + 2);
    await makeRequests(server, bob, MODELS[1], 1);
    const traceId = bob.traceIds[MODELS[1]]?.[0] as string;
    expect(await page.getByText(traceId).count()).toBe(0);
    await page.getByRole('button', { name: 'Refresh' }).click();
    await poll(() => table.getByRole('row').filter({ hasText: traceId }).count()).toBe(1);
    // The charts follow: bob's second model joins the legend.
    await poll(() => page.getByRole('figure', { name: 'Requests per day' }).getByRole('list').getByText(MODELS[1], { exact: true }).count()).toBe(1);
    expectNoPageErrors(browser);
  });

  it('pages through the requests with Load more', async () => {
    const many = await register(server, 'many-usage@example.com');
    await makeRequests(server, many, MODELS[1], 55);
    const page = await pageAs(browser, server, many);
    await page.goto(`${server.url}/usage`);
    const table = requestsTable(page);
    await poll(() => table.getByRole('row').count()).toBe(1 + 50);
    await page.getByRole('button', { name: 'Load more' }).click();
    await poll(() => table.getByRole('row').count()).toBe(1 + 55);
    expect(await page.getByRole('button', { name: 'Load more' }).count()).toBe(0);
    // The oldest request is on the second page.
    expect(await table.getByRole('row').filter({ hasText: many.traceIds[MODELS[1]]?.[0] as string }).count()).toBe(1);
    expectNoPageErrors(browser);
  });

  it('shows a new person the first steps instead of empty charts', async () => {
    const fresh = await register(server, 'fresh-usage@example.com');
    const page = await pageAs(browser, server, fresh);
    await page.goto(`${server.url}/usage`);
    await poll(() => page.getByRole('heading', { name: 'No requests yet' }).isVisible()).toBe(true);
    expect(await page.getByRole('link', { name: 'Try the playground' }).getAttribute('href')).toBe('/playground');
    await screenshot(page, 'usage-empty');
    expectNoPageErrors(browser);
  });

  it('fits a phone screen', async () => {
    const page = await pageAs(browser, server, ada, { width: 375, height: 812 });
    await page.goto(`${server.url}/usage`);
    await poll(() => requestsTable(page).getByRole('row').count()).toBe(1 + 5);
    await poll(() => page.getByRole('figure', { name: 'Requests per day' }).getByRole('list').getByText(MODELS[0], { exact: true }).count()).toBe(1);
    // The page itself never scrolls sideways; only the table does, inside its frame.
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
    await screenshot(page, 'usage-phone');
    expectNoPageErrors(browser);
  });
  it('gives a non-admin no operator link, and /admin says it is not available', async () => {
    const page = await pageAs(browser, server, ada);
    await page.goto(`${server.url}/admin`);
    await poll(() => page.getByRole('heading', { name: 'Not available', level: 1 }).isVisible()).toBe(true);
    expect(await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Operator' }).count()).toBe(0);
    expect(await page.getByRole('tab').count()).toBe(0);
    await screenshot(page, 'admin-not-available');
    expectNoPageErrors(browser);
  });

  it('shows the operator everyone, and disabling a credential in the UI makes the API refuse its token', async () => {
    const page = await pageAs(browser, server, admin);
    await page.goto(`${server.url}/`);
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Operator' }).click();
    await poll(() => page.getByRole('tab', { name: 'People', selected: true }).isVisible()).toBe(true);
    const people = page.getByRole('table', { name: 'People' });
    for (const email of ['operator@example.com', 'ada-usage@example.com', 'bob-usage@example.com']) {
      await poll(() => people.getByRole('row').filter({ hasText: email }).count()).toBe(1);
    }
    // ada's 30 days: 5 requests.
    const adaRow = people.getByRole('row').filter({ hasText: 'ada-usage@example.com' });
    expect(await adaRow.getByRole('cell').nth(6).textContent()).toBe('5');
    await screenshot(page, 'admin-people');

    // Search narrows the list.
    await page.getByLabel('Search by email').fill('bob-');
    await poll(() => people.getByRole('row').count()).toBe(1 + 1);

    await page.getByRole('tab', { name: 'Credentials' }).click();
    const credentials = page.getByRole('table', { name: 'Credentials' });
    const bobRow = credentials.getByRole('row').filter({ hasText: 'bob-usage@example.com' });
    await poll(() => bobRow.count()).toBe(1);
    expect(await bobRow.textContent()).not.toContain(bob.token);
    await bobRow.getByRole('button', { name: /^Disable / }).click();
    const dialog = page.getByRole('dialog');
    await poll(() => dialog.isVisible()).toBe(true);
    await dialog.getByRole('button', { name: 'Disable' }).click();
    await poll(() => bobRow.getByText('disabled', { exact: true }).isVisible()).toBe(true);
    await screenshot(page, 'admin-credentials');

    const refused = await chat(server, bob.token, MODELS[0]);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('disabled');

    // And enabled again, it works again.
    await bobRow.getByRole('button', { name: /^Enable / }).click();
    await dialog.getByRole('button', { name: 'Enable' }).click();
    await poll(() => bobRow.getByText('active', { exact: true }).isVisible()).toBe(true);
    const allowed = await chat(server, bob.token, MODELS[0]);
    expect(allowed.status).toBe(200);
    await allowed.text();
    expectNoPageErrors(browser);
  });

  it('sets a credential limit that the person then sees', async () => {
    const page = await pageAs(browser, server, admin);
    await page.goto(`${server.url}/admin?tab=people`);
    // From a person's row to their credentials only.
    await page.getByRole('link', { name: '1 credentials of ada-usage@example.com' }).click();
    await poll(() => page.getByText('The credentials of ada-usage@example.com.').isVisible()).toBe(true);
    const table = page.getByRole('table', { name: 'Credentials' });
    await poll(() => table.getByRole('row').count()).toBe(1 + 1);
    const adaRow = table.getByRole('row').filter({ hasText: 'ada-usage@example.com' });
    await adaRow.getByRole('button', { name: /^Limits / }).click();
    await page.getByLabel('Requests per second').fill('7');
    await page.getByLabel('Concurrent requests').fill('x');
    await page.getByRole('button', { name: 'Save limits' }).click();
    // A bad number is caught before anything is sent.
    await poll(() => page.getByLabel('Concurrent requests').getAttribute('aria-invalid')).toBe('true');
    await page.getByLabel('Concurrent requests').fill('');
    await page.getByRole('button', { name: 'Save limits' }).click();
    await poll(() => adaRow.getByRole('cell').nth(4).textContent()).toBe('7');
    const own = await ada.client.request<{ credentials: Array<{ id: string; rps: number | null; concurrency: number | null }> }>('GET', '/api/credentials');
    expect(own.body.credentials.find((c) => c.id === ada.credentialId)).toMatchObject({ rps: 7, concurrency: null });
    expectNoPageErrors(browser);
  });

  it('credits a person exactly the decimal amount typed, and disables a person with a confirmation', async () => {
    const target = await register(server, 'credit-me@example.com');
    const before = await target.client.request<{ balance: number }>('GET', '/api/balance');
    const page = await pageAs(browser, server, admin);
    await page.goto(`${server.url}/admin?tab=people`);
    const row = page.getByRole('table', { name: 'People' }).getByRole('row').filter({ hasText: 'credit-me@example.com' });
    await row.getByRole('button', { name: 'Credit credit-me@example.com' }).click();
    await page.getByLabel(/^Amount/).fill('1.000001');
    await page.getByRole('button', { name: 'Credit', exact: true }).click();
    await poll(() => page.getByText('Credited 1.000001 USD to credit-me@example.com.').first().isVisible()).toBe(true);
    const after = await target.client.request<{ balance: number }>('GET', '/api/balance');
    expect(after.body.balance - before.body.balance).toBe(1_000_001);

    await row.getByRole('button', { name: 'Disable credit-me@example.com' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Disable' }).click();
    await poll(() => row.getByText('disabled', { exact: true }).isVisible()).toBe(true);
    // Disabling ends the person's sessions.
    expect((await target.client.request('GET', '/api/session')).status).toBe(401);
    expectNoPageErrors(browser);
  });

  it('edits a price with exact decimals, and GET /api/services shows it', async () => {
    const page = await pageAs(browser, server, admin);
    await page.goto(`${server.url}/admin?tab=prices`);
    const table = page.getByRole('table', { name: 'Prices per 1M tokens' });
    // The seven models, then the priced ones of the catalogue (Moonshot's current four, shipped off).
    await poll(() => table.getByRole('row').count()).toBe(1 + 7 + 4);
    await screenshot(page, 'admin-prices');
    await page.getByRole('button', { name: 'Edit the price of kimi-k2.5' }).click();
    await page.getByLabel('Input, cache hit (USD per 1M)').fill('0.15');
    await page.getByLabel('Input (USD per 1M)').fill('2.5');
    await page.getByLabel('Output (USD per 1M)').fill('10.000001');
    await page.getByLabel('Input, cache write (USD per 1M)').fill('3');
    await page.getByRole('button', { name: 'Save price' }).click();
    await poll(() => table.getByRole('row').filter({ hasText: 'kimi-k2.5' }).textContent()).toContain('10.000001 USD');
    const services = (await (await fetch(`${server.url}/api/services`)).json()) as {
      services: Array<{ models: Array<{ id: string; price: unknown }> }>;
    };
    const model = services.services[0]?.models.find((m) => m.id === 'kimi-k2.5');
    expect(model?.price).toEqual({ cachedInput: 150_000, input: 2_500_000, output: 10_000_001, cacheWrite: 3_000_000 });
    expectNoPageErrors(browser);
  });

  it('makes top-up codes shown once, which a person can redeem', async () => {
    const page = await pageAs(browser, server, admin);
    await page.goto(`${server.url}/admin?tab=codes`);
    await page.getByLabel(/^Amount each/).fill('2.5');
    await page.getByLabel('How many').fill('3');
    await page.getByRole('button', { name: 'Make codes' }).click();
    const reveal = page.getByRole('region', { name: 'New top-up codes' });
    await poll(() => reveal.isVisible()).toBe(true);
    const codes = ((await reveal.getByTestId('new-codes').textContent()) ?? '').split('\n');
    expect(codes).toHaveLength(3);
    const table = page.getByRole('table', { name: 'Top-up codes' });
    await poll(() => table.getByRole('row').filter({ hasText: 'unused' }).count()).toBe(3);
    await screenshot(page, 'admin-codes');

    const redeemed = await ada.client.request<{ redeemed: number }>('POST', '/api/balance/redeem', { body: { code: codes[0] } });
    expect(redeemed.status).toBe(200);
    expect(redeemed.body.redeemed).toBe(2_500_000);
    // Once dismissed, the codes are gone from the page; the list shows the redemption.
    await reveal.getByRole('button', { name: 'I have copied them' }).click();
    expect(await page.getByText(codes[1] as string).count()).toBe(0);
    await page.getByRole('tab', { name: 'People' }).click();
    await page.getByRole('tab', { name: 'Top-up codes' }).click();
    await poll(() => table.getByRole('row').filter({ hasText: 'ada-usage@example.com' }).count()).toBe(1);
    expectNoPageErrors(browser);
  });

  it('charts everyone’s usage per model for the operator, and fits a phone', async () => {
    const page = await pageAs(browser, server, admin, { width: 375, height: 812 });
    await page.goto(`${server.url}/admin?tab=usage`);
    const chart = page.getByRole('figure', { name: 'Requests per day' });
    for (const model of MODELS) await poll(() => chart.getByRole('list').getByText(model, { exact: true }).count()).toBe(1);
    // Everyone's requests: more than ada's 5 and bob's 2.
    const total = Number(((await page.getByRole('group', { name: 'Requests', exact: true }).textContent()) ?? '').replace(/\D/g, ''));
    expect(total).toBeGreaterThan(7);
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
    await screenshot(page, 'admin-usage-phone');
    await page.getByRole('tab', { name: 'Usage' }).focus();
    await page.keyboard.press('Home');
    await poll(() => page.getByRole('tab', { name: 'People', selected: true }).isVisible()).toBe(true);
    await poll(() => page.getByRole('table', { name: 'People' }).isVisible()).toBe(true);
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
    await screenshot(page, 'admin-people-phone');
    expectNoPageErrors(browser);
  });
});
