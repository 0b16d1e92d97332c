/**
 * The console loads in real Chromium from a real server, with no page errors.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithBrowser, expectNoPageErrors, screenshot } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

describeWithBrowser('the console shell', (browser) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it('renders the API page with its navigation', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/`);
    await expect.poll(() => page.getByRole('navigation', { name: 'Console' }).isVisible()).toBe(true);
    expect(await page.getByRole('link', { name: 'Playground' }).count()).toBe(1);
    await screenshot(page, 'shell');
    expectNoPageErrors(browser);
  });
});
