/**
 * Real Chromium for the console's end-to-end tests (test/e2e/), driven by playwright-core:
 * Debian's /usr/bin/chromium (CHROMIUM_PATH to change it), never a downloaded browser.
 *
 * Without Chromium a local run skips the browser suites with a loud warning; under CI=true
 * (where .ci/run installs it) the suites fail instead.
 *
 *   describeWithBrowser('playground', (browser) => {
 *     it('...', async () => { const page = await browser.newPage(); ... });
 *   });
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect } from 'vitest';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Screenshots land here; CI keeps test-results/ as the run's artifacts. */
export const SCREENSHOT_DIR = join(import.meta.dirname, '..', '..', 'test-results', 'screenshots');

// The flags the machine notes require: no GPU, no sandbox as root, and no background
// networking (this machine's closed network refuses it, many connections at a time).
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM_PATH)) return true;
  const message = `Chromium is not at ${CHROMIUM_PATH} (apt-get install chromium, or set CHROMIUM_PATH).`;
  if (process.env.CI === 'true') throw new Error(`${message} CI=true, so the browser suites fail instead of skipping.`);
  console.warn(`\n!!! ${message}\n!!! SKIPPING the browser test suites. They run (and must pass) in CI.\n`);
  return false;
}

const available = chromiumAvailable();

export interface TestBrowser {
  /** A fresh context (its own cookies) and a page in it, sized like a desktop unless told. */
  newPage(options?: { width?: number; height?: number }): Promise<Page>;
  /** Errors the pages logged (console.error, uncaught exceptions); a test expects none. */
  readonly errors: string[];
}

/** A describe block with one Chromium for its tests, or skipped locally without Chromium. */
export function describeWithBrowser(name: string, body: (browser: TestBrowser) => void): void {
  describe.skipIf(!available)(name, () => {
    let browser: Browser | undefined;
    const contexts: BrowserContext[] = [];
    const errors: string[] = [];
    beforeAll(async () => {
      browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
    });
    // A test's pages close with it: a page left open keeps connections to the test's server
    // (Chromium's speculative sockets included), and the server's close would wait for them.
    afterEach(async () => {
      await Promise.all(contexts.splice(0).map((c) => c.close().catch(() => undefined)));
    });
    afterAll(async () => {
      await browser?.close();
    });
    body({
      errors,
      async newPage({ width = 1280, height = 860 } = {}) {
        if (browser === undefined) throw new Error('describeWithBrowser: the browser exists only inside hooks and tests');
        const context = await browser.newContext({ viewport: { width, height } });
        contexts.push(context);
        const page = await context.newPage();
        page.on('console', (message) => {
          if (message.type() === 'error') errors.push(`console.error on ${page.url()}: ${message.text()}`);
        });
        page.on('pageerror', (error) => errors.push(`uncaught on ${page.url()}: ${error.message}`));
        return page;
      },
    });
  });
}

/** Saves a full-page screenshot as test-results/screenshots/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * Fails the test with the page errors collected so far, if any. Chromium logs every 4xx/5xx
 * answer to a fetch as a console error ("Failed to load resource: ... status of 401"); a test
 * that provokes such answers on purpose (a wrong password) names them in `expected`: those
 * entries are taken off the list, and anything else still fails.
 */
export function expectNoPageErrors(browser: TestBrowser, expected: RegExp[] = []): void {
  const unexpected = browser.errors.filter((error) => !expected.some((pattern) => pattern.test(error)));
  browser.errors.splice(0, browser.errors.length, ...unexpected);
  expect(unexpected).toEqual([]);
}

/** The console error Chromium logs for a fetch answered with this status. */
export function failedResource(status: number): RegExp {
  return new RegExp(`Failed to load resource: the server responded with a status of ${status}\\b`);
}
