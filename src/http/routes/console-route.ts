/**
 * The web console (web/, built into web/dist by `npm run build`): its pages are served as
 * the one index.html (the console routes in the browser), its hashed assets with a year's
 * cache. Only the console's own paths get the page: any other unknown path is still the
 * API's 404 `no_api` envelope (SPEC.md). Without a build (web/dist missing) the plain
 * home page (home-route.ts) answers `/` instead.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** The console's pages (web/src/app.tsx has one route for each). */
export const CONSOLE_PAGES = ['/', '/login', '/register', '/playground', '/credentials', '/usage', '/balance', '/account', '/admin'];

export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../../web/dist/', import.meta.url));

// The console loads only its own scripts and styles; React's style attributes and the
// charts' inline styles need 'unsafe-inline' for styles (never for scripts).
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

export function hasConsoleBuild(webRoot: string = DEFAULT_WEB_ROOT): boolean {
  return existsSync(`${webRoot}/index.html`);
}

/** Serves the console built at webRoot (check hasConsoleBuild first). */
export function registerConsoleRoute(app: FastifyInstance, webRoot: string = DEFAULT_WEB_ROOT): void {
  const indexHtml = readFileSync(`${webRoot}/index.html`);

  void app.register(fastifyStatic, {
    root: `${webRoot}/assets`,
    prefix: '/assets/',
    wildcard: true,
    index: false,
    // File names carry their content hash: a new build has new names.
    immutable: true,
    maxAge: '365d',
  });

  for (const page of CONSOLE_PAGES) {
    app.get(page, async (_request, reply) =>
      reply
        .type('text/html; charset=utf-8')
        .header('cache-control', 'no-cache')
        .header('content-security-policy', CONTENT_SECURITY_POLICY)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'same-origin')
        .send(indexHtml),
    );
  }
}
