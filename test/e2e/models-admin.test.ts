/**
 * The operator's Models tab in real Chromium against a real server (docs/models.md): the
 * catalogue is listed whatever the state; switching a shipped model on serves it at once;
 * retiring a model to a replacement keeps old clients working; a change that does not fit
 * together is refused with the API's message, and nothing changes.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithBrowser, expectNoPageErrors, failedResource, screenshot } from '../helpers/browser.js';
import { ConsoleClient } from '../helpers/console-client.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/** Waits for the page to get there (the API and React take their time on a busy machine). */
const poll = <T>(read: () => Promise<T> | T) => expect.poll(read, { timeout: 15_000 });

describeWithBrowser('the operator\'s Models tab', (browser) => {
  let server: TestServer;
  let operator: ConsoleClient;
  let page: Page;

  beforeAll(async () => {
    server = await startTestServer();
    operator = new ConsoleClient(server.url);
    expect((await operator.register('operator-models@example.com', 'correct horse battery staple', server.setupToken)).status).toBe(201);
  });
  afterAll(async () => {
    await server?.close();
  });

  /** A page logged in as the operator, on the Models tab with its rows loaded (each test gets its own: pages close with their test). */
  async function openModelsTab(): Promise<void> {
    page = await browser.newPage();
    await page.context().addCookies([
      { name: 'moongate_session', value: operator.cookie as string, url: server.url, httpOnly: true, sameSite: 'Lax' },
    ]);
    await page.goto(`${server.url}/admin?tab=models`);
    await poll(() => page.getByRole('table', { name: 'The model catalogue' }).getByRole('row').count()).toBe(1 + 7 + 4);
  }

  const chat = (model: string) => server.chat({ model, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 16 });
  const row = (id: string) => page.getByRole('table', { name: 'The model catalogue' }).getByRole('row').filter({ has: page.getByRole('rowheader', { name: id, exact: true }) });

  it('lists every row, switches kimi-k3 on, and the API serves it at once', async () => {
    await openModelsTab();
    await poll(() => row('kimi-k3').textContent()).toContain('off');
    await screenshot(page, 'admin-models');
    expect((await chat('kimi-k3')).status).toBe(404);

    await page.getByRole('button', { name: 'Edit kimi-k3' }).click();
    await page.getByLabel('State').selectOption('active');
    await page.getByRole('button', { name: 'Save model' }).click();
    await poll(() => row('kimi-k3').getByRole('cell').first().textContent()).toBe('active');
    const res = await chat('kimi-k3');
    expect(res.status).toBe(200);
    const listed = (await (await fetch(`${server.url}/v1/models`)).json()) as { data: Array<{ id: string; think_efforts: string[] }> };
    expect(listed.data.find((m) => m.id === 'kimi-k3')?.think_efforts).toEqual(['low', 'high', 'max']);
    expectNoPageErrors(browser);
  });

  it('retires a model to a replacement: old clients are served by it', async () => {
    await openModelsTab();
    await page.getByRole('button', { name: 'Edit kimi-k2-0711-preview' }).click();
    await page.getByLabel('State').selectOption('retired');
    await page.getByLabel('Requests for it').selectOption('replacement');
    await page.getByLabel('Replacement').selectOption('kimi-k2-instruct-0905');
    await page.getByRole('button', { name: 'Save model' }).click();
    await poll(() => row('kimi-k2-0711-preview').getByRole('cell').first().textContent()).toBe('retired → kimi-k2-instruct-0905');
    const res = await chat('kimi-k2-0711-preview');
    expect(res.status).toBe(200);
    expect(((await res.json()) as { model: string }).model).toBe('kimi-k2-0711-preview');
    expectNoPageErrors(browser);
  });

  it('shows the API\'s refusal of limits that do not fit, and changes nothing', async () => {
    await openModelsTab();
    await page.getByRole('button', { name: 'Edit kimi-k2.5' }).click();
    await page.getByLabel('Largest completion (tokens)').fill('300000');
    await page.getByRole('button', { name: 'Save model' }).click();
    await poll(() => page.getByRole('alert').filter({ hasText: 'the largest completion cannot exceed the context' }).count()).toBe(1);
    await page.getByRole('button', { name: 'Cancel' }).click();
    await poll(() => row('kimi-k2.5').textContent()).toContain('262,144');
    const admin = await operator.request<{ models: Array<{ id: string; maxCompletionTokens: number }> }>('GET', '/api/admin/models');
    expect(admin.body.models.find((m) => m.id === 'kimi-k2.5')?.maxCompletionTokens).toBe(262_144);
    expectNoPageErrors(browser, [failedResource(400)]);
  });
});
