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
async function register(server: TestServer, email: string): Promise<Person> {
  const client = new ConsoleClient(server.url);
  expect((await client.register(email, PASSWORD)).status).toBe(201);
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
  let ada: Person;
  let bob: Person;

  beforeAll(async () => {
    server = await startTestServer();
    // The first person registered on a fresh install is the operator.
    await register(server, 'operator@example.com');
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
      // The legend names each model, in every chart.
      for (const name of ['Requests per day', 'Tokens per day', 'Cost per day (USD)']) {
        await poll(() => page.getByRole('figure', { name }).getByText(model, { exact: true }).count()).toBe(1);
      }
    }
    // Today's bars: one stacked bar segment per model.
    await poll(() => requestsChart.locator('svg path.recharts-rectangle').count()).toBe(2);

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
    await poll(() => page.getByRole('figure', { name: 'Requests per day' }).getByText(MODELS[0], { exact: true }).count()).toBe(1);
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

});
