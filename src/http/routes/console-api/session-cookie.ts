/**
 * The console's session cookie, `moongate_session`: HttpOnly (page scripts never see it),
 * SameSite=Lax (not sent on cross-site POSTs, still sent when a person follows a link in),
 * Path=/, Secure when the request came over https (directly, or through a proxy trusted
 * with TRUST_PROXY), and a Max-Age that follows the session's sliding expiry.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

export const SESSION_COOKIE = 'moongate_session';

export function setSessionCookie(request: FastifyRequest, reply: FastifyReply, sessionId: string, ttlMs: number): void {
  reply.setCookie(SESSION_COOKIE, sessionId, {
    httpOnly: true,
    sameSite: 'lax',
    path: '/',
    secure: request.protocol === 'https',
    maxAge: Math.floor(ttlMs / 1000),
  });
}

export function clearSessionCookie(request: FastifyRequest, reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'lax', path: '/', secure: request.protocol === 'https' });
}
