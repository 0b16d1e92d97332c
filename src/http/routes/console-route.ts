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
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

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

/**
 * What the not-found handler asks before it writes the 404 envelope: a browser's navigation
 * (a GET that accepts text/html) gets the console instead of raw JSON. A console page with
 * a trailing slash (/usage/) is redirected to the page without it; any other path gets the
 * console's own "not found" page with status 404. API clients (no text/html in Accept) and
 * the API's own prefixes keep the envelope. Returns true when it answered.
 */
export type ConsoleNotFound = (request: FastifyRequest, reply: FastifyReply) => boolean;

// Paths a browser never navigates to as a page: these keep the envelope even for text/html.
const API_PREFIXES = ['/api/', '/v1/', '/kimi/', '/assets/'];

function wantsHtml(request: FastifyRequest): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  const accept = request.headers.accept;
  return typeof accept === 'string' && accept.toLowerCase().includes('text/html');
}

/** Serves the console built at webRoot (check hasConsoleBuild first); returns its not-found answer. */
export function registerConsoleRoute(app: FastifyInstance, webRoot: string = DEFAULT_WEB_ROOT): ConsoleNotFound {
  const indexHtml = readFileSync(`${webRoot}/index.html`);
  const sendPage = (reply: FastifyReply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('content-security-policy', CONTENT_SECURITY_POLICY)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'same-origin')
      .send(indexHtml);

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
    app.get(page, async (_request, reply) => sendPage(reply));
  }

  const pages = new Set(CONSOLE_PAGES);
  return (request, reply) => {
    if (!wantsHtml(request)) return false;
    const [path = '', query] = request.url.split(/\?(.*)/s, 2);
    if (API_PREFIXES.some((prefix) => path.startsWith(prefix))) return false;
    // Only to a known page: the target is one of ours, never a `//other.host` built from the path.
    const bare = path.replace(/\/+$/, '');
    if (bare !== path && pages.has(bare)) {
      void reply.code(308).header('location', query === undefined || query === '' ? bare : `${bare}?${query}`).send();
      return true;
    }
    void sendPage(reply.code(404));
    return true;
  };
}
