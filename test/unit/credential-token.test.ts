/**
 * The stored hash of a token is its hex SHA-256: every credential already in a store was
 * saved under it, so the hot path's one-shot hash must give exactly the same digest.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CREDENTIAL_TOKEN_PATTERN, hashCredentialToken, newCredentialToken } from '../../src/accounts/credential-token.js';

describe('credential tokens', () => {
  it('hash to the hex SHA-256 of the token', () => {
    // A known vector: the SHA-256 of "abc" (FIPS 180-2, appendix B.1).
    expect(hashCredentialToken('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const { token, hash } = newCredentialToken();
    expect(token).toMatch(CREDENTIAL_TOKEN_PATTERN);
    expect(hash).toBe(createHash('sha256').update(token, 'utf8').digest('hex'));
  });
});
