/**
 * API tokens: `mg-` and the base64url of 32 random bytes (256 bits). Only the SHA-256
 * of a token is stored; a fast hash is enough because the token is random and long, so
 * there is nothing for a slow, salted hash to protect that brute force could reach, and
 * a plain digest keeps the lookup one indexed equality on the hot path.
 */
import { hash, randomBytes } from 'node:crypto';

export const CREDENTIAL_TOKEN_PATTERN = /^mg-[A-Za-z0-9_-]{43}$/;

/**
 * Playground tokens (docs/console-api.md, "The playground"): `mg-play-` and 256 random bits.
 * Five characters longer than a credential token, so neither pattern matches the other.
 */
export const PLAYGROUND_TOKEN_PREFIX = 'mg-play-';
export const PLAYGROUND_TOKEN_PATTERN = /^mg-play-[A-Za-z0-9_-]{43}$/;

/** Characters kept in listings: `mg-` and 7 random ones, enough to tell tokens apart. */
const PREFIX_LENGTH = 10;

export interface CredentialToken {
  /** Shown once, to the person who created it. */
  token: string;
  hash: string;
  prefix: string;
}

export function newCredentialToken(): CredentialToken {
  const token = `mg-${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashCredentialToken(token), prefix: token.slice(0, PREFIX_LENGTH) };
}

export function newPlaygroundToken(): { token: string; hash: string } {
  const token = `${PLAYGROUND_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashCredentialToken(token) };
}

/**
 * The hex SHA-256 of a token. Runs on every API request, a cached credential's too (the cache
 * is keyed by it, so no token is kept in memory): the one-shot `crypto.hash` gives the same
 * digest as a Hash object for about a quarter of the CPU.
 */
export function hashCredentialToken(token: string): string {
  return hash('sha256', token, 'hex');
}
