/**
 * The console's states as a new person meets them (issue 19), in real Chromium at a laptop's
 * 1366×768 and a phone's 390×844: paths (a trailing slash, an unknown page, API clients keep
 * the envelope), banners that go when the form is sent again or left, the lockout's text,
 * the playground while a reply streams and after Stop, the phone's menu, the usage table's
 * scrollbar in view, and one money and one time format.
 */
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CSV_HEADER, USAGE_EXPORT_COLUMNS } from '../../src/billing/usage-export.js';
import { AccountService } from '../../src/accounts/account-service.js';
import { SessionStore } from '../../src/accounts/session-store.js';
import type { ChatEvent } from '../../src/contract/index.js';
import type { Provider, ProviderCall } from '../../src/providers/provider.js';
import { describeWithBrowser, expectNoPageErrors, failedResource, screenshot, type TestBrowser } from '../helpers/browser.js';
import { ConsoleClient } from '../helpers/console-client.js';
import { ensureBuilt, runMoongate } from '../helpers/moongate-cli.js';
import { answerText, runStatus } from '../helpers/playground-page.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const PASSWORD = 'correct horse battery';
const SIZES = [
  { name: 'laptop', width: 1366, height: 768 },
  { name: 'phone', width: 390, height: 844 },
] as const;
const poll = expect.poll;

/**
 * Replies " Hello there" (with the leading space a model sends), then, while `held`, waits
 * until the test lets it go or the caller leaves: a stream the test can catch in the middle
 * without a clock.
 */
class HeldProvider implements Provider {
  readonly kind = 'held';
  held = false;
  #release: Array<() => void> = [];

  release(): void {
    for (const resolve of this.#release.splice(0)) resolve();
  }

  async *chat(call: ProviderCall): AsyncIterable<ChatEvent> {
    call.onAccepted?.();
    yield { type: 'delta', index: 0, content: ' Hello there' };
    if (this.held) {
      await new Promise<void>((resolve, reject) => {
        this.#release.push(resolve);
        call.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
      });
    }
    yield { type: 'delta', index: 0, content: ', friend.' };
    yield { type: 'finish', index: 0, reason: 'stop' };
    yield { type: 'usage', promptTokens: call.promptTokens, completionTokens: 5 };
  }
}

interface Person {
  email: string;
  client: ConsoleClient;
  token: string;
}

let people = 0;

describeWithBrowser('the console states', (browser: TestBrowser) => {
  let server: TestServer;
  const provider = new HeldProvider();
  let operator: Person;

  beforeAll(async () => {
    server = await startTestServer({ provider, env: { REGISTRATIONS_PER_HOUR: '1000', MOONGATE_FREE_QUOTA: '5.5' } });
    // An operator made as `moongate admin create` makes one, so the header has all six links.
    const store = server.server.store;
    const accounts = new AccountService({ db: store.db, dialect: store.dialect, sessions: new SessionStore(store.db) });
    await accounts.createAdmin({ email: 'operator-states@example.com', password: PASSWORD });
    const client = new ConsoleClient(server.url);
    expect((await client.login('operator-states@example.com', PASSWORD)).status).toBe(200);
    operator = { email: 'operator-states@example.com', client, token: '' };
  });
  afterAll(() => server.close());

  /** A registered person who acquired the Kimi API (its token in hand). */
  async function person(tag: string): Promise<Person> {
    const email = `${tag}-${++people}@example.com`;
    const client = new ConsoleClient(server.url);
    expect((await client.register(email, PASSWORD)).status).toBe(201);
    const acquired = await client.request<{ token: string }>('POST', '/api/services/kimi-chat-completions/acquire', { body: {} });
    expect(acquired.status).toBe(201);
    return { email, client, token: acquired.body.token };
  }

  async function pageAs(who: Person | null, size: { width: number; height: number }): Promise<Page> {
    const page = await browser.newPage(size);
    if (who !== null) await page.context().addCookies([{ name: 'moongate_session', value: who.client.cookie!, url: server.url }]);
    return page;
  }

  const pathOf = (page: Page) => {
    const url = new URL(page.url());
    return `${url.pathname}${url.search}`;
  };

  /** Nothing on the page is wider than the window. */
  const overflow = (page: Page) => page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');

  for (const size of SIZES) {
    it(`paths at ${size.name}: a trailing slash goes to the page, an unknown page is the console's "not found" with a way home`, async () => {
      const ada = await person(`paths-${size.name}`);
      const page = await pageAs(ada, size);
      const slashed = await page.goto(`${server.url}/usage/?from=link`);
      expect(slashed?.status()).toBe(200);
      expect(pathOf(page)).toBe('/usage?from=link');
      await page.getByRole('heading', { name: 'Usage', level: 1 }).waitFor();

      const unknown = await page.goto(`${server.url}/anything/here`);
      expect(unknown?.status()).toBe(404);
      await page.getByRole('heading', { name: 'Page not found', level: 1 }).waitFor();
      expect(await page.content()).not.toContain('"success":false');
      expect(await overflow(page)).toBeLessThanOrEqual(0);
      await screenshot(page, `states-not-found-${size.name}`);
      await page.getByRole('link', { name: 'Go to the console home' }).click();
      await poll(() => pathOf(page)).toBe('/');

      // An API client (no text/html in its Accept) keeps the envelope, at the same paths.
      for (const path of ['/anything/here', '/usage/']) {
        const api = await fetch(`${server.url}${path}`, { headers: { accept: 'application/json' } });
        expect(api.status).toBe(404);
        const body = (await api.json()) as { success: boolean; error: { code: string }; trace_id: string };
        expect(body).toMatchObject({ success: false, error: { code: 'no_api' } });
        expect(api.headers.get('x-trace-id')).toBe(body.trace_id);
      }
      expectNoPageErrors(browser, [failedResource(404)]);
    });

    it(`banners at ${size.name}: a new try clears the last result; the register error goes with "Log in instead"; a short password is said on the page`, async () => {
      await ensureBuilt();
      const made = await runMoongate(['code', 'create', '--amount', '2', '--count', '1', '--json'], {
        DATA_DIR: server.dataDir,
        DATABASE_URL: undefined,
      });
      expect(made.code, made.stderr).toBe(0);
      const [{ code }] = JSON.parse(made.stdout) as [{ code: string }];
      const ada = await person(`banners-${size.name}`);
      const page = await pageAs(ada, size);
      await page.goto(`${server.url}/balance`);
      await page.getByLabel('Code', { exact: true }).fill(code);
      await page.getByRole('button', { name: 'Redeem' }).click();
      const success = page.getByText('to your balance.');
      await success.waitFor();
      await page.getByLabel('Code', { exact: true }).fill('MG-NOPE-NOPE-NOPE-NOPE');
      await page.getByRole('button', { name: 'Redeem' }).click();
      await page.getByText('The code was not redeemed.').waitFor();
      expect(await success.count()).toBe(0);

      // Register with an email already taken: its error, then "Log in instead" is a clean form.
      const visitor = await pageAs(null, size);
      await visitor.goto(`${server.url}/register`);
      await visitor.getByLabel('Email').fill(ada.email);
      await visitor.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await visitor.getByRole('button', { name: 'Register' }).click();
      await visitor.getByRole('alert').waitFor();
      await visitor.getByRole('link', { name: 'Log in instead' }).click();
      await poll(() => pathOf(visitor)).toBe('/login');
      await visitor.getByRole('heading', { name: 'Log in', level: 1 }).waitFor();
      expect(await visitor.getByRole('alert').count()).toBe(0);

      // A too-short password: the page says so (not only the browser's bubble), and nothing is sent.
      await visitor.getByRole('link', { name: 'Create an account' }).click();
      await visitor.getByLabel('Email').fill(`short-${size.name}@example.com`);
      await visitor.getByLabel('Password', { exact: true }).fill('short');
      await visitor.getByRole('button', { name: 'Register' }).click();
      const problem = visitor.getByRole('alert');
      await problem.waitFor();
      expect(await problem.textContent()).toBe('The password needs at least 8 characters.');
      expect(await visitor.getByLabel('Password', { exact: true }).getAttribute('aria-invalid')).toBe('true');
      expect(pathOf(visitor)).toBe('/register');
      expect((await new ConsoleClient(server.url).login(`short-${size.name}@example.com`, 'short')).status).toBe(401);
      await screenshot(visitor, `states-short-password-${size.name}`);
      expectNoPageErrors(browser, [failedResource(400), failedResource(409)]);
    });

    it(`lockout at ${size.name}: the wait is said once`, async () => {
      const ada = await person(`locked-${size.name}`);
      for (let i = 0; i < 5; i++) expect((await new ConsoleClient(server.url).login(ada.email, 'wrong password')).status).toBe(401);
      const page = await pageAs(null, size);
      await page.goto(`${server.url}/login`);
      await page.getByLabel('Email').fill(ada.email);
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Log in' }).click();
      const alert = page.getByRole('alert');
      await alert.waitFor();
      const text = (await alert.textContent()) ?? '';
      expect(text).toMatch(/^Too many failed logins\. Try again in \d+ minutes\.trace id /);
      expect(text).not.toContain('later');
      expectNoPageErrors(browser, [failedResource(429)]);
    });

    it(`playground at ${size.name}: Try says why it is disabled, the form is read-only while it streams, Stop shows the logged tokens, the answer is trimmed`, async () => {
      const ada = await person(`playground-${size.name}`);
      const page = await pageAs(ada, size);
      await page.goto(`${server.url}/playground`);
      const content = page.getByLabel('Content of message 1');
      await content.fill('');
      const tryButton = page.getByRole('button', { name: 'Try' });
      expect(await tryButton.isDisabled()).toBe(true);
      const why = page.locator(`#${(await tryButton.getAttribute('aria-describedby')) ?? 'none'}`);
      expect(await why.textContent()).toBe('Write a message first.');
      expect(await why.isVisible()).toBe(true);

      await content.fill('Say hello.');
      provider.held = true;
      try {
        await tryButton.click();
        await poll(() => answerText(page)).toBe('Hello there');
        for (const control of [content, page.getByLabel('Role of message 1'), page.getByLabel('Model'), page.getByLabel('Stream')]) {
          expect(await control.isDisabled()).toBe(true);
        }
        expect(await page.getByRole('button', { name: '+ Add message' }).isDisabled()).toBe(true);
        await screenshot(page, `states-playground-streaming-${size.name}`);
        await page.getByRole('button', { name: 'Stop' }).click();
      } finally {
        provider.held = false;
        provider.release();
      }
      await poll(() => runStatus(page).textContent()).toMatch(/^Stopped\./);
      expect(await content.isDisabled()).toBe(false);
      const traceId = (await page.getByLabel('Trace id').textContent())!.trim();
      await poll(() => page.getByLabel('Cost').textContent()).toContain('charged');
      const rows = await ada.client.request<{ rows: Array<{ traceId: string; promptTokens: number; completionTokens: number }> }>('GET', '/api/usage');
      const row = rows.body.rows.find((r) => r.traceId === traceId)!;
      expect(row.promptTokens).toBeGreaterThan(0);
      expect(await page.getByLabel('Prompt tokens').textContent()).toBe(String(row.promptTokens));
      expect(await page.getByLabel('Completion tokens').textContent()).toBe(String(row.completionTokens));
      // The display trims the model's leading space; the raw events keep every byte.
      expect(await answerText(page)).toBe('Hello there');
      await page.getByRole('tab', { name: 'Raw SSE events' }).click();
      expect(await page.getByLabel('The event stream exactly as received').textContent()).toContain('"content":" Hello there"');
      expectNoPageErrors(browser);
    });

    it(`navigation at ${size.name}: every link reachable on screen, a menu button on the phone`, async () => {
      const page = await pageAs(operator, size);
      await page.goto(`${server.url}/balance`);
      await page.getByRole('button', { name: 'Log out' }).waitFor();
      const nav = page.getByRole('navigation', { name: 'Console' });
      const menu = page.getByRole('button', { name: 'Menu' });
      if (size.name === 'phone') {
        expect(await menu.isVisible()).toBe(true);
        expect(await menu.getAttribute('aria-expanded')).toBe('false');
        await menu.click();
        expect(await menu.getAttribute('aria-expanded')).toBe('true');
      } else {
        expect(await menu.isVisible()).toBe(false);
      }
      const links = nav.getByRole('link');
      expect(await links.allTextContents()).toEqual(['API', 'Playground', 'Credentials', 'Usage', 'Balance', 'Operator']);
      for (const link of await links.all()) {
        const box = (await link.boundingBox())!;
        expect(box.x).toBeGreaterThanOrEqual(0);
        expect(box.x + box.width).toBeLessThanOrEqual(size.width);
        expect(box.y + box.height).toBeLessThanOrEqual(size.height);
      }
      expect(await overflow(page)).toBeLessThanOrEqual(0);
      await screenshot(page, `states-navigation-${size.name}`);
      await nav.getByRole('link', { name: 'Usage' }).click();
      await poll(() => pathOf(page)).toBe('/usage');
      // A new page folds the menu again.
      if (size.name === 'phone') expect(await nav.isVisible()).toBe(false);
      expectNoPageErrors(browser);
    });

    it(`usage at ${size.name}: the table's sideways scrollbar is in view; times and money read one way, with the exact figure and the zone on hover`, async () => {
      const ada = await person(`usage-${size.name}`);
      for (let i = 0; i < 30; i++) {
        const response = await fetch(`${server.url}/kimi/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${ada.token}` },
          body: JSON.stringify({ model: 'kimi-k2.5', messages: [{ role: 'user', content: `hello ${i}` }] }),
        });
        expect(response.status).toBe(200);
        await response.text();
      }
      const page = await pageAs(ada, size);
      await page.goto(`${server.url}/usage`);
      const table = page.getByRole('table', { name: 'Recent requests, newest first' });
      await poll(() => table.getByRole('row').count()).toBeGreaterThan(30);
      const frame = page.locator('.usage-table .table-wrap');
      await frame.scrollIntoViewIfNeeded();
      await page.evaluate('document.querySelector(".usage-table .table-wrap").scrollIntoView({ block: "start" })');
      const box = (await frame.boundingBox())!;
      // The frame's bottom edge (where its sideways scrollbar is) fits in the window.
      expect(box.y).toBeGreaterThanOrEqual(0);
      expect(box.y + box.height).toBeLessThanOrEqual(size.height);

      // One time format: the row's time as the "Updated" line shows its time, the zone on hover.
      const rows = await ada.client.request<{ rows: Array<{ traceId: string; createdAt: number; cost: number }> }>('GET', '/api/usage?limit=1');
      const newest = rows.body.rows[0]!;
      const expected = await page.evaluate<string>(
        `new Date(${newest.createdAt}).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' })`,
      );
      const zone = await page.evaluate<string>('Intl.DateTimeFormat().resolvedOptions().timeZone');
      const firstRow = table.getByRole('row').nth(1);
      const time = firstRow.locator('time');
      expect(await time.textContent()).toBe(expected);
      expect(await time.getAttribute('title')).toContain(zone);
      const updated = page.locator('.usage-updated time');
      expect(await updated.getAttribute('title')).toContain(zone);
      // One money format: the currency, and the exact figure on hover.
      const cost = firstRow.locator('.money');
      expect(await cost.textContent()).toMatch(/^\d[\d,]*\.\d{2,6} USD$/);
      expect(await cost.getAttribute('title')).toBe(exactMoney(newest.cost));
      await screenshot(page, `states-usage-${size.name}`);

      // Download: every row of the filtered view as CSV, with the CLI's columns and a trace id in each.
      await page.getByLabel('Model').selectOption('kimi-k2.5');
      await page.getByLabel('Credential').selectOption({ index: 1 });
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download CSV' }).click()]);
      expect(download.suggestedFilename()).toBe('moongate-usage.csv');
      const csv = readFileSync((await download.path())!, 'utf8');
      const lines = csv.split('\r\n');
      expect(`${lines[0]}\r\n`).toBe(CSV_HEADER);
      const body = lines.slice(1, -1);
      expect(body).toHaveLength(30);
      const all = await ada.client.request<{ rows: Array<{ traceId: string }> }>('GET', '/api/usage?limit=100');
      expect(body.map((line) => line.split(',')[0]).sort()).toEqual(all.body.rows.map((r) => r.traceId).sort());
      expect(body[0]!.split(',')[USAGE_EXPORT_COLUMNS.indexOf('cost')]).toBe(exactMoney(newest.cost).replace(' USD', ''));
      expectNoPageErrors(browser);
    });

    it(`API reference at ${size.name}: the API page lists the operations and schemas of /openapi.json`, async () => {
      const page = await pageAs(null, size);
      await page.goto(`${server.url}/`);
      const reference = page.getByRole('region', { name: 'Reference' });
      await reference.getByText('/kimi/chat/completions', { exact: true }).waitFor();
      const operations = await reference.locator('.api-operation p').allTextContents();
      expect(operations).toEqual([
        'POST /kimi/chat/completions Create a chat completion',
        'POST /v1/chat/completions Create a chat completion',
        'GET /v1/models List the models',
        'GET /kimi/models List the models',
        'POST /kimi/tokenizers/estimate-token-count Count the prompt tokens of a chat request (Moonshot-compatible)',
        'POST /v1/tokenizers/estimate-token-count Count the prompt tokens of a chat request (Moonshot-compatible)',
        "GET /kimi/users/me/balance The caller's quota and balance (Moonshot-compatible)",
        "GET /v1/users/me/balance The caller's quota and balance (Moonshot-compatible)",
      ]);
      await reference.getByText('ChatRequest', { exact: true }).click();
      const fields = reference.locator('.api-schema[open] .api-fields > li > code');
      expect(await fields.allTextContents()).toEqual(expect.arrayContaining(['model', 'messages', 'stream', 'max_tokens']));
      expect(await reference.getByRole('link', { name: '/openapi.json' }).getAttribute('href')).toBe('/openapi.json');
      expect(await overflow(page)).toBeLessThanOrEqual(0);
      await screenshot(page, `states-api-reference-${size.name}`);
      expectNoPageErrors(browser);
    });

    it(`money at ${size.name}: prices carry the currency, a balance is rounded to what fits with the exact figure on hover`, async () => {
      const ada = await person(`money-${size.name}`);
      await ensureBuilt();
      const added = await runMoongate(['balance', 'add', '--email', ada.email, '--amount', '994.997879'], {
        DATA_DIR: server.dataDir,
        DATABASE_URL: undefined,
      });
      expect(added.code, added.stderr).toBe(0);
      const page = await pageAs(ada, size);
      await page.goto(`${server.url}/`);
      const row = page.getByRole('row', { name: /^kimi-k2\.5 / });
      await row.waitFor();
      const prices = await row.locator('td .money').allTextContents();
      expect(prices).toHaveLength(4);
      for (const price of prices) expect(price).toMatch(/^\d+\.\d{2,6} USD$/);

      await page.goto(`${server.url}/balance`);
      const balance = page.getByTestId('stat-balance');
      await balance.waitFor();
      expect(await balance.textContent()).toBe('995.00 USD');
      expect(await balance.locator('.money').getAttribute('title')).toBe('994.997879 USD');
      expect(await page.getByTestId('stat-quota').textContent()).toBe('5.50 USD');

      // Where the money came from: the free quota (still 5.50 after a request spent some of it) and a redeemed code.
      const spent = await fetch(`${server.url}/kimi/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ada.token}` },
        body: JSON.stringify({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }] }),
      });
      expect(spent.status).toBe(200);
      await spent.text();
      const made = await runMoongate(['code', 'create', '--amount', '2.5', '--count', '1', '--json'], { DATA_DIR: server.dataDir, DATABASE_URL: undefined });
      const [{ code }] = JSON.parse(made.stdout) as [{ code: string }];
      expect((await ada.client.request('POST', '/api/balance/redeem', { body: { code } })).status).toBe(200);
      await page.reload();
      const history = page.getByRole('figure', { name: 'Where the money came from' });
      await history.getByRole('listitem').nth(1).waitFor();
      const items = await history.getByRole('listitem').allTextContents();
      expect(items).toHaveLength(2);
      expect(items[0]).toMatch(/^Free quota, .+: 5\.50 USD$/);
      expect(items[1]).toMatch(/^Top-up code, .+: 2\.50 USD$/);
      expect(await history.locator('.recharts-bar-rectangle').count()).toBe(2);
      await screenshot(page, `states-balance-${size.name}`);
      expectNoPageErrors(browser);
    });
  }
});

/** The exact figure, as the hover shows it: every micro-unit, at least two decimals. */
function exactMoney(micro: number): string {
  const whole = Math.floor(micro / 1_000_000);
  let fraction = String(micro % 1_000_000).padStart(6, '0').replace(/0+$/, '');
  if (fraction.length < 2) fraction = fraction.padEnd(2, '0');
  return `${whole.toLocaleString('en-US')}.${fraction} USD`;
}
