/**
 * axe-core (@axe-core/playwright) on every console page, as a visitor and as an operator with
 * some usage, at 1366×768 and 390×844 (the phone menu open): no serious or critical violation.
 */
import { AxeBuilder } from '@axe-core/playwright';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AccountService } from '../../src/accounts/account-service.js';
import { SessionStore } from '../../src/accounts/session-store.js';
import { describeWithBrowser, expectNoPageErrors } from '../helpers/browser.js';
import { CONSOLE_PASSWORD, ConsoleClient } from '../helpers/console-client.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const SIZES = [
  { name: 'laptop', width: 1366, height: 768 },
  { name: 'phone', width: 390, height: 844 },
] as const;

/** Each page, and what shows once it has loaded. */
const PAGES: Array<{ path: string; ready: string }> = [
  { path: '/', ready: 'Reference' },
  { path: '/playground', ready: 'Request' },
  { path: '/credentials', ready: 'Credentials' },
  { path: '/usage', ready: 'Recent requests' },
  { path: '/balance', ready: 'Redeem a top-up code' },
  { path: '/account', ready: 'Account' },
  { path: '/admin', ready: 'Operator' },
  { path: '/no-such-page', ready: 'Page not found' },
];

async function seriousViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => `${violation.id} (${violation.impact}): ${violation.help} at ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`);
}

describeWithBrowser('accessibility', (browser) => {
  let server: TestServer;
  let operator: ConsoleClient;

  beforeAll(async () => {
    server = await startTestServer();
    const store = server.server.store;
    await new AccountService({ db: store.db, dialect: store.dialect, sessions: new SessionStore(store.db) }).createAdmin({
      email: 'a11y-operator@example.com',
      password: CONSOLE_PASSWORD,
    });
    operator = new ConsoleClient(server.url);
    expect((await operator.login('a11y-operator@example.com', CONSOLE_PASSWORD)).status).toBe(200);
    const acquired = await operator.request<{ token: string }>('POST', '/api/services/kimi-chat-completions/acquire', { body: {} });
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${server.url}/kimi/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${acquired.body.token}` },
        body: JSON.stringify({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }] }),
      });
      await response.text();
    }
  });
  afterAll(() => server.close());

  for (const size of SIZES) {
    it(`finds no serious or critical violation on any page at ${size.name}`, async () => {
      const found: Record<string, string[]> = {};
      const visitor = await browser.newPage(size);
      for (const path of ['/', '/login', '/register']) {
        await visitor.goto(`${server.url}${path}`);
        await visitor.getByRole('heading', { level: 1 }).first().waitFor();
        found[`visitor ${path}`] = await seriousViolations(visitor);
      }
      const page = await browser.newPage(size);
      await page.context().addCookies([{ name: 'moongate_session', value: operator.cookie!, url: server.url }]);
      for (const { path, ready } of PAGES) {
        await page.goto(`${server.url}${path}`);
        await page.getByRole('heading', { name: ready, exact: true }).waitFor();
        if (size.name === 'phone') await page.getByRole('button', { name: 'Menu' }).click();
        found[path] = await seriousViolations(page);
      }
      expect(Object.fromEntries(Object.entries(found).filter(([, violations]) => violations.length > 0))).toEqual({});
      expectNoPageErrors(browser, [/status of 404/]);
    }, 120_000);
  }
});
