/**
 * The built console is served at its pages, with its assets cached for good, while any
 * other unknown path stays the API's 404 envelope.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_PAGES, hasConsoleBuild } from '../../src/http/routes/console-route.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

describe('the console', () => {
  let server: TestServer;
  beforeAll(async () => {
    // `npm test` builds the console first (npm run build); a missing build is a failure here.
    expect(hasConsoleBuild(), 'web/dist is missing: run npm run build').toBe(true);
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it('serves index.html with a strict content security policy at every page', async () => {
    expect(server.server.consoleServed).toBe(true);
    for (const page of CONSOLE_PAGES) {
      const response = await fetch(`${server.url}${page}`);
      expect(response.status, page).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(response.headers.get('x-trace-id')).toMatch(/^[0-9a-f-]{36}$/);
      expect(await response.text()).toContain('<div id="root"></div>');
    }
  });

  it('serves the hashed assets the page names, cached as immutable', async () => {
    const html = await (await fetch(`${server.url}/`)).text();
    const script = /<script[^>]+src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const response = await fetch(`${server.url}${script}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/javascript/);
    expect(response.headers.get('cache-control')).toContain('immutable');
    expect((await response.text()).length).toBeGreaterThan(1000);
  });

  it('keeps the API envelope for unknown paths, missing assets and wrong methods', async () => {
    const unknown = await fetch(`${server.url}/nope`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ success: false, error: { code: 'no_api' } });
    const asset = await fetch(`${server.url}/assets/missing.js`);
    expect(asset.status).toBe(404);
    const post = await fetch(`${server.url}/playground`, { method: 'POST', body: '{}' });
    expect(post.status).toBe(400);
    expect(await post.json()).toMatchObject({ error: { code: 'api_not_implemented' } });
  });

  it('falls back to the plain home page when the console is not built', async () => {
    const plain = await startTestServer({ webRoot: false });
    try {
      expect(plain.server.consoleServed).toBe(false);
      const html = await (await fetch(`${plain.url}/`)).text();
      expect(html).toContain('/kimi/chat/completions');
      expect((await fetch(`${plain.url}/playground`)).status).toBe(404);
    } finally {
      await plain.close();
    }
  });
});
