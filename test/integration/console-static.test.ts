/**
 * The built console is served at its pages, with its assets cached for good, while any
 * other unknown path stays the API's 404 envelope.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_PAGES, hasConsoleBuild } from '../../src/http/routes/console-route.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

// Fastify's inject(): the pages and assets are plain answers, no socket is needed.

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
      const response = await server.server.app.inject({ url: page });
      expect(response.statusCode, page).toBe(200);
      expect(response.headers['content-type']).toMatch(/^text\/html/);
      expect(response.headers['content-security-policy']).toContain("script-src 'self'");
      expect(response.headers['x-trace-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(response.body).toContain('<div id="root"></div>');
    }
  });

  it('serves the hashed assets the page names, cached as immutable', async () => {
    const html = (await server.server.app.inject({ url: '/' })).body;
    const script = /<script[^>]+src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const response = await server.server.app.inject({ url: script ?? '' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/javascript/);
    expect(response.headers['cache-control']).toContain('immutable');
    expect(response.body.length).toBeGreaterThan(1000);
  });

  it('keeps the API envelope for unknown paths, missing assets and wrong methods', async () => {
    const app = server.server.app;
    const unknown = await app.inject({ url: '/nope' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ success: false, error: { code: 'no_api' } });
    const asset = await app.inject({ url: '/assets/missing.js' });
    expect(asset.statusCode).toBe(404);
    // The content type fetch gives a string body.
    const post = await app.inject({ method: 'POST', url: '/playground', payload: '{}', headers: { 'content-type': 'text/plain;charset=UTF-8' } });
    expect(post.statusCode).toBe(400);
    expect(post.json()).toMatchObject({ error: { code: 'api_not_implemented' } });
  });

  it("answers a browser's navigation with the console: a trailing slash redirects to the page, an unknown path is its not-found page", async () => {
    const app = server.server.app;
    const html = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };
    const slashed = await app.inject({ url: '/usage/?model=kimi-k2.5', headers: html });
    expect(slashed.statusCode).toBe(308);
    expect(slashed.headers.location).toBe('/usage?model=kimi-k2.5');
    expect((await app.inject({ url: '/balance//', headers: html })).headers.location).toBe('/balance');
    for (const url of ['/anything', '/anything/', '//evil.example/', '/usage/more']) {
      const page = await app.inject({ url, headers: html });
      expect(page.statusCode, url).toBe(404);
      expect(page.headers['content-type'], url).toMatch(/^text\/html/);
      expect(page.headers.location, url).toBeUndefined();
      expect(page.headers['content-security-policy']).toContain("script-src 'self'");
      expect(page.body).toContain('<div id="root"></div>');
    }
    // The API's own paths, other methods and clients that ask for JSON keep the envelope.
    for (const request of [
      { url: '/api/nope', headers: html },
      { url: '/v1/nope', headers: html },
      { url: '/assets/missing.js', headers: html },
      { url: '/usage/', headers: { accept: 'application/json' } },
      { url: '/anything' },
      { url: '/anything', method: 'POST' as const, headers: html, payload: '{}' },
    ]) {
      const answer = await app.inject({ ...request, headers: { ...request.headers, 'content-type': 'application/json' } });
      expect(answer.statusCode, request.url).toBe(404);
      expect(answer.json(), request.url).toMatchObject({ success: false, error: { code: 'no_api' } });
    }
  });

  it('falls back to the plain home page when the console is not built', async () => {
    const plain = await startTestServer({ webRoot: false });
    try {
      expect(plain.server.consoleServed).toBe(false);
      const html = (await plain.server.app.inject({ url: '/' })).body;
      expect(html).toContain('/kimi/chat/completions');
      expect((await plain.server.app.inject({ url: '/playground' })).statusCode).toBe(404);
    } finally {
      await plain.close();
    }
  });
});
