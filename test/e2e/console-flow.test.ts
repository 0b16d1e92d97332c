/**
 * Issue 7's main flow, in one go, in real Chromium against a real server (simulator slowed
 * so the stream can be watched): a visitor presses Acquire on the API page, registers,
 * comes straight back with the application acquired and its free quota visible; in the
 * playground, Try with stream on a thinking model shows the reasoning before the answer;
 * the usage page lists the request under the trace id the playground showed; the balance
 * page shows the quota down by exactly the cost that request logged.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { formatMoney } from '../../web/src/format.js';
import { describeWithBrowser, expectNoPageErrors, screenshot } from '../helpers/browser.js';
import { ConsoleClient } from '../helpers/console-client.js';
import { answerText, readPanelsWhenReasoning, runStatus } from '../helpers/playground-page.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const FREE_QUOTA = 5_500_000; // MOONGATE_FREE_QUOTA below, in micro-units
const poll = <T>(read: () => Promise<T> | T) => expect.poll(read, { timeout: 15_000 });

describeWithBrowser('the console flow', (browser) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      env: { MOONGATE_FREE_QUOTA: '5.5', MOONGATE_SIM_TTFT_MS: '150', MOONGATE_SIM_TOKENS_PER_S: '60' },
    });
  });
  afterAll(() => server.close());

  it('register → Acquire → back → free quota → playground stream on a thinking model → usage row → balance down by its cost', async () => {
    const page = await browser.newPage();
    const path = () => {
      const url = new URL(page.url());
      return `${url.pathname}${url.search}`;
    };

    // The API page: Acquire sends a visitor to register, and back.
    await page.goto(`${server.url}/`);
    await page.getByRole('button', { name: 'Acquire' }).click();
    await poll(path).toBe(`/register?next=${encodeURIComponent('/?acquire=1')}`);
    await page.getByLabel('Email').fill('flow@example.com');
    await page.getByLabel('Password').fill('correct horse battery');
    await screenshot(page, 'flow-1-register');
    await page.getByRole('button', { name: 'Register' }).click();

    // Straight back, acquired: the token shown once, the free quota visible.
    await page.getByTestId('new-token').waitFor();
    expect(path()).toBe('/');
    expect(await page.getByText('Acquired', { exact: true }).isVisible()).toBe(true);
    const freeQuota = formatMoney(FREE_QUOTA, 'USD');
    await poll(() => page.getByText(freeQuota).first().isVisible()).toBe(true);
    await screenshot(page, 'flow-2-acquired');

    // The playground: the acquired credential, a thinking model, stream on.
    await page.getByRole('link', { name: 'Try it in the playground' }).click();
    await poll(path).toBe('/playground');
    const credential = page.getByLabel('Credential');
    await credential.waitFor();
    expect(await credential.locator('option').count()).toBe(1);
    await page.getByLabel('Model').selectOption('kimi-k2-thinking');
    expect(await page.getByLabel('Stream').isChecked()).toBe(true);
    await page.getByLabel('Content of message 1').fill('What is moongate?');
    await page.getByRole('button', { name: 'Try' }).click();

    const first = await (await page.waitForFunction(readPanelsWhenReasoning)).jsonValue();
    expect(first?.reasoning).not.toBe('');
    expect(first?.answer).toBe('');
    await poll(async () => (await answerText(page)).length).toBeGreaterThan(0);
    await screenshot(page, 'flow-3-playground-streaming');
    await poll(() => runStatus(page).textContent()).toMatch(/^Done\./);
    const traceId = ((await page.getByLabel('Trace id').textContent()) ?? '').trim();
    expect(traceId).toMatch(/^[0-9a-f-]{36}$/);
    await poll(() => page.getByLabel('Cost').textContent()).toContain('charged');
    const shownCost = ((await page.getByLabel('Cost').textContent()) ?? '').replace(/\s*charged$/, '');
    await screenshot(page, 'flow-4-playground-done');

    // The usage page lists it, under that trace id, with the cost the playground showed.
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Usage' }).click();
    const row = page.getByRole('table', { name: 'Recent requests, newest first' }).getByRole('row').filter({ hasText: traceId });
    await poll(() => row.count()).toBe(1);
    const rowText = (await row.textContent()) ?? '';
    expect(rowText).toContain('kimi-k2-thinking');
    expect(rowText).toContain('completed');
    expect(rowText).toContain(shownCost);
    await screenshot(page, 'flow-5-usage');

    // The logged cost, as the console API reports it with this browser's session: the person's one request.
    const client = new ConsoleClient(server.url);
    client.cookie = (await page.context().cookies()).find((c) => c.name === 'moongate_session')?.value;
    const usage = await client.request<{ rows: Array<{ traceId: string; cost: number }> }>('GET', '/api/usage');
    expect(usage.body.rows.map((r) => r.traceId)).toEqual([traceId]);
    const cost = usage.body.rows[0]!.cost;
    expect(cost).toBeGreaterThan(0);
    expect(formatMoney(cost, 'USD')).toBe(shownCost);

    // The balance page: the free quota went down by exactly that cost.
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Balance' }).click();
    await page.getByTestId('stat-quota').waitFor();
    await poll(() => page.getByTestId('stat-quota').textContent()).toBe(formatMoney(FREE_QUOTA - cost, 'USD'));
    expect(await page.getByTestId('stat-held').textContent()).toBe(formatMoney(0, 'USD'));
    await screenshot(page, 'flow-6-balance');
    expectNoPageErrors(browser);
  });
});
