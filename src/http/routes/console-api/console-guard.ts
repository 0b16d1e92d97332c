/**
 * Runs before every /api/ route: finds the session the cookie names, refuses a route that
 * needs one without it, and holds every state-changing call (POST, PUT, PATCH, DELETE) to
 * two CSRF defences on top of the SameSite=Lax cookie:
 *
 * - an Origin header, when the browser sends one, must name this scheme and host (OWASP's
 *   "verifying origin with standard headers"); it covers login and register, which have no
 *   session yet;
 * - a session-authenticated call must carry `x-csrf-token` equal to its session's token
 *   (a synchronizer token: a cross-site page cannot read it, and a custom header forces a
 *   CORS preflight that moongate never grants).
 *
 * SPEC.md's table has no 403 code for a forged request (403 is `disabled` or `used_up`, and
 * clients branch on codes), so a failed check is 400 bad_request naming the header.
 * No session is 401 invalid_token, "Log in first.".
 *
 * Before all of that, every /api/ request (reads too) must name a host this server knows as
 * its own (host-policy.ts: PUBLIC_URL, localhost or an IP address), against DNS rebinding.
 *
 * The operator's area (`admin` routes) stays invisible: for anyone but a logged-in admin it
 * answers 404 no_api, exactly as an unknown path, before any other check.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FoundSession } from '../../../accounts/session-store.js';
import { csrfTokenMatches } from '../../../accounts/session-store.js';
import { MoongateError } from '../../../contract/errors.js';
import type { AccountContext } from './account-context.js';
import { SESSION_COOKIE, clearSessionCookie, setSessionCookie } from './session-cookie.js';

/**
 * Per route (Fastify route `config.access`): `session` (the default) needs a logged-in
 * person; `optional` works either way; `public` ignores any session (login, register);
 * `admin` needs a logged-in admin and is no_api to everyone else.
 */
export type RouteAccess = 'session' | 'optional' | 'public' | 'admin';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
  interface FastifyRequest {
    consoleSession: FoundSession | null;
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
export const CSRF_HEADER = 'x-csrf-token';

export function consoleGuard(context: AccountContext) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (!context.hosts.allowsHost(request.host)) {
      throw new MoongateError('bad_request', 'the host header names a host this server does not answer to as the console: set PUBLIC_URL');
    }
    const unsafe = !SAFE_METHODS.has(request.method);
    const access = request.routeOptions.config.access ?? 'session';
    // Session-bearing answers must never be cached by a browser or a proxy (an admin route's
    // only once it is known to be one: its refusal must look like an unknown path's, headers too).
    if (access !== 'admin') reply.header('cache-control', 'no-store');
    if (unsafe && access !== 'admin') checkOrigin(request, context);
    if (access === 'public') return;

    const cookie = request.cookies[SESSION_COOKIE];
    const found = cookie === undefined ? undefined : await context.sessions.findSession(cookie);
    request.consoleSession = found ?? null;
    if (access === 'admin') {
      // The same answer as the app's not-found handler gives an unknown path.
      if (found?.person.role !== 'admin') throw new MoongateError('no_api', `No API at ${request.url.split('?', 1)[0] ?? ''}`);
      reply.header('cache-control', 'no-store');
      if (unsafe) checkOrigin(request, context);
    }
    if (found === undefined) {
      if (cookie !== undefined) clearSessionCookie(request, reply);
      if (access === 'session') throw new MoongateError('invalid_token', 'Log in first.');
      return;
    }
    if (unsafe && !csrfTokenMatches(headerValue(request, CSRF_HEADER), found.session.csrfToken)) {
      throw new MoongateError('bad_request', `the ${CSRF_HEADER} header is missing or does not match this session`);
    }
    if (found.refreshed && cookie !== undefined) setSessionCookie(request, reply, cookie, context.sessions.ttlMs);
  };
}

/** The session a `session` route runs with (the guard has already refused requests without one). */
export function sessionOf(request: FastifyRequest): FoundSession {
  const found = request.consoleSession;
  if (found === null) throw new MoongateError('invalid_token', 'Log in first.');
  return found;
}

function checkOrigin(request: FastifyRequest, context: AccountContext): void {
  const origin = headerValue(request, 'origin');
  if (origin === undefined) return;
  if (!context.hosts.allowsOrigin(origin, request.protocol, request.host)) {
    throw new MoongateError('bad_request', 'the origin header does not match this host: cross-site requests are refused');
  }
}

function headerValue(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
