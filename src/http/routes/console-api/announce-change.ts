/**
 * Tells every cache (this process's at once, every replica's with REDIS_URL) that a
 * credential or a person changed, after the change is in the store: the credential cache
 * (accounts/credential-cache.ts) drops what it read about them, so a revocation, a disabled
 * account or new limits apply to the very next request (docs/security.md, "Credential cache").
 * Redis failing to pass it on does not fail the request: this process dropped its entries
 * already, and the other replicas' entries expire within their TTL (1 s).
 */
import type { FastifyRequest } from 'fastify';
import type { Change } from '../../../limits/change-bus.js';
import type { AccountContext } from './account-context.js';

export async function announceChange(context: Pick<AccountContext, 'changes'>, request: FastifyRequest, change: Change): Promise<void> {
  try {
    await context.changes?.publish(change);
  } catch (error) {
    request.log.warn({ err: error, change }, 'the change could not be announced to the other replicas; it applies there within 1 s');
  }
}
