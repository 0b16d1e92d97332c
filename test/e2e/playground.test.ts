/**
 * The playground in real Chromium against a real server whose simulator is slowed down, so
 * the stream can be watched: the reasoning fills before the answer, the raw SSE ends in
 * [DONE], the trace id and cost shown are the usage log's, Stop aborts the call, the code
 * tab holds this request, and the page works at phone width.
 */
import { afterAll, beforeAll, expect, it, onTestFinished } from 'vitest';
import { describeWithBrowser, expectNoPageErrors, failedResource, screenshot, type TestBrowser } from '../helpers/browser.js';
import { ConsoleClient } from '../helpers/console-client.js';
import { answerText, readPanelsWhenReasoning, runStatus } from '../helpers/playground-page.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

interface UsageRow {
  traceId: string;
  status: string;
  cost: number;
  model: string;
}

/** A registered person who acquired the Kimi service, and a page logged in as them. */
async function personWithPage(browser: TestBrowser, server: TestServer, email: string, size?: { width: number; height: number }) {
  const client = new ConsoleClient(server.url);
  expect((await client.register(email, 'correct horse battery')).status).toBe(201);
  const acquired = await client.request<{ credential: { id: string } }>('POST', '/api/services/kimi-chat-completions/acquire', { body: {} });
  expect(acquired.status).toBe(201);
  const page = await browser.newPage(size);
  await page.context().addCookies([{ name: 'moongate_session', value: client.cookie!, url: server.url }]);
  await page.goto(`${server.url}/playground`);
  await page.getByLabel('Credential').waitFor();
  return { client, page, credentialId: acquired.body.credential.id };
}

async function usageRow(client: ConsoleClient, traceId: string): Promise<UsageRow | undefined> {
  const usage = await client.request<{ rows: UsageRow[] }>('GET', '/api/usage?limit=50');
  return usage.body.rows.find((row) => row.traceId === traceId);
}

describeWithBrowser('the playground', (browser) => {
  let server: TestServer;
  beforeAll(async () => {
    // Slow enough to watch: the first token after 150 ms, then 60 tokens a second.
    server = await startTestServer({ env: { MOONGATE_SIM_TTFT_MS: '150', MOONGATE_SIM_TOKENS_PER_S: '60' } });
  });
  afterAll(() => server.close());

  it('streams a thinking model: reasoning first, then the answer, then raw SSE, trace id, cost and code', async () => {
    const { client, page } = await personWithPage(browser, server, 'stream@example.com');
    await page.getByLabel('Model').selectOption('kimi-k2-thinking');
    expect(await page.getByLabel('Model').locator('option').count()).toBe(7);
    await page.getByLabel('Content of message 1').fill('Tell me about "moongate" & the $moon');
    await expect.poll(() => page.getByLabel('Stream').isChecked()).toBe(true);

    await page.getByRole('button', { name: 'Try' }).click();

    // Both panels read in one go inside the page, at the moment the reasoning has text.
    const first = await page.waitForFunction(readPanelsWhenReasoning);
    const seen = (await first.jsonValue())!;
    expect(seen.reasoning).not.toBe('');
    expect(seen.answer).toBe('');

    // Mid-stream: the answer has begun and the call is still running.
    await expect.poll(async () => (await answerText(page)).length, { timeout: 15_000 }).toBeGreaterThan(20);
    await expect.poll(() => runStatus(page).textContent()).toBe('Streaming…');
    await screenshot(page, 'playground-streaming');

    await expect.poll(() => runStatus(page).textContent(), { timeout: 20_000 }).toMatch(/^Done\./);
    expect(await page.getByRole('button', { name: 'Stop' }).count()).toBe(0);
    expect(await answerText(page)).toContain('simulated reply');

    // The trace id shown is the usage row's, and the cost shown is what that row charged.
    const traceId = (await page.getByLabel('Trace id').textContent())!.trim();
    expect(traceId).toMatch(/^[0-9a-f-]{36}$/);
    await expect.poll(async () => (await usageRow(client, traceId))?.status, { timeout: 10_000 }).toBe('completed');
    const row = (await usageRow(client, traceId))!;
    expect(row.model).toBe('kimi-k2-thinking');
    await expect.poll(() => page.getByLabel('Cost').textContent(), { timeout: 10_000 }).toContain('charged');
    // The exact figure is the one on hover (the text may round to the decimals that fit).
    const costText = (await page.getByLabel('Cost').locator('.money').getAttribute('title'))!;
    const shownMicros = Math.round(Number(/([\d.]+) USD/.exec(costText)![1]) * 1_000_000);
    expect(shownMicros).toBe(row.cost);
    expect(Number((await page.getByLabel('Completion tokens').textContent())!.replace(/,/g, ''))).toBeGreaterThan(0);

    await page.getByRole('tab', { name: 'Raw SSE events' }).click();
    const raw = (await page.getByLabel('The event stream exactly as received').textContent())!;
    expect(raw).toContain('data: {"id":"chatcmpl-');
    expect(raw.trimEnd().endsWith('data: [DONE]')).toBe(true);

    // The generated cURL is this request.
    await page.getByRole('tab', { name: 'cURL' }).click();
    const curl = (await page.getByLabel('cURL: chat.sh').textContent())!;
    expect(curl).toContain('"model": "kimi-k2-thinking"');
    expect(curl).toContain('"content": "Tell me about \\"moongate\\" & the $moon"');
    expect(curl).toContain('"stream": true');
    expect(curl).toContain('$MOONGATE_API_KEY');
    await page.getByRole('tab', { name: 'Java', exact: true }).click();
    expect(await page.getByLabel('Java: Chat.java').textContent()).toContain('System.getenv("MOONGATE_API_KEY")');

    expectNoPageErrors(browser);
  });

  it('Stop aborts the call, which the usage log records as aborted', async () => {
    // A server of its own that streams 2 tokens a second: the reply is still running when Stop
    // is clicked however slow the machine (at the file's 60 a second a short reply could end first).
    const slow = await startTestServer({ env: { MOONGATE_SIM_TTFT_MS: '150', MOONGATE_SIM_TOKENS_PER_S: '2' } });
    onTestFinished(() => slow.close());
    const { client, page } = await personWithPage(browser, slow, 'stop@example.com');
    await page.getByLabel('Model').selectOption('kimi-k2-turbo-preview');
    await page.getByRole('button', { name: 'Try' }).click();
    await expect.poll(async () => (await answerText(page)).length, { timeout: 15_000 }).toBeGreaterThan(0);
    await page.getByRole('button', { name: 'Stop' }).click();
    await expect.poll(() => runStatus(page).textContent(), { timeout: 10_000 }).toMatch(/^Stopped\./);
    expect(await page.getByRole('button', { name: 'Try' }).isEnabled()).toBe(true);
    const traceId = (await page.getByLabel('Trace id').textContent())!.trim();
    await expect.poll(async () => (await usageRow(client, traceId))?.status, { timeout: 10_000 }).toBe('aborted');
    expectNoPageErrors(browser);
  });

  it('works at phone width: messages added and removed, a plain (non-stream) call, nothing wider than the screen', async () => {
    const { page } = await personWithPage(browser, server, 'phone@example.com', { width: 375, height: 800 });
    await page.getByRole('button', { name: '+ Add message' }).click();
    await page.getByLabel('Role of message 2').selectOption('assistant');
    await page.getByLabel('Content of message 2').fill('Hi! What can I do?');
    await page.getByRole('button', { name: '+ Add message' }).click();
    await page.getByLabel('Content of message 3').fill('Say it in one line.');
    await page.getByRole('button', { name: 'Remove message 1' }).click();
    expect(await page.getByLabel(/^Content of message \d$/).count()).toBe(2);
    expect(await page.getByLabel('Role of message 1').inputValue()).toBe('assistant');

    await page.getByLabel('Stream').uncheck();
    await page.getByLabel('max_tokens').fill('40');
    await page.getByRole('button', { name: 'Try' }).click();
    await expect.poll(() => runStatus(page).textContent(), { timeout: 20_000 }).toMatch(/^Done\./);
    expect(await page.getByLabel('Completion tokens').textContent()).toBe('40');
    await page.getByRole('tab', { name: 'Raw JSON' }).click();
    expect(await page.getByLabel('The response body as received (indented)').textContent()).toContain('"object": "chat.completion"');

    // Browser code as a string: the tests' tsconfig has no DOM types.
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(page, 'playground-phone');
    expectNoPageErrors(browser);
  });

  it("shows the API's error code, message and trace id", async () => {
    const { client, page, credentialId } = await personWithPage(browser, server, 'error@example.com');
    expect((await client.request('DELETE', `/api/credentials/${credentialId}`)).status).toBe(200);
    await page.getByRole('button', { name: 'Try' }).click();
    const alert = page.getByRole('alert');
    await expect.poll(() => alert.textContent(), { timeout: 10_000 }).toContain('no_api');
    expect(await alert.textContent()).toMatch(/trace id [0-9a-f-]{36}/);
    // Chromium logs the refused call itself; nothing else may be in the log.
    const logged = browser.errors.splice(0);
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.every((line) => failedResource(404).test(line))).toBe(true);
    expectNoPageErrors(browser);
  });
});
