import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from '../../src/accounts/password-hash.js';

describe('password hashes', () => {
  it('verify the password they were made from, and nothing else', async () => {
    const encoded = await hashPassword('correct horse battery');
    expect(encoded).toMatch(/^scrypt\$1\$15\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(encoded).not.toContain('correct horse');
    expect(await verifyPassword('correct horse battery', encoded)).toEqual({ ok: true, stale: false });
    expect((await verifyPassword('correct horse batterY', encoded)).ok).toBe(false);
    expect((await verifyPassword('', encoded)).ok).toBe(false);
  });

  it('salt every hash, so one password hashes two ways', async () => {
    const [a, b] = await Promise.all([hashPassword('same password'), hashPassword('same password')]);
    expect(a).not.toBe(b);
    expect((await verifyPassword('same password', b)).ok).toBe(true);
  });

  it('match the same password typed in another Unicode normal form', async () => {
    const composed = 'caf\u00e9 au lait';
    const decomposed = 'cafe\u0301 au lait';
    expect((await verifyPassword(decomposed, await hashPassword(composed))).ok).toBe(true);
  });

  it('keep old, cheaper hashes working and flag them for rehashing', async () => {
    const encoded = await hashPassword('correct horse battery');
    const parts = encoded.split('$');
    // Rebuild the hash at N = 2^10 with Node's scrypt directly, as an older version would have stored it.
    const { scryptSync } = await import('node:crypto');
    const salt = Buffer.from(parts[5] ?? '', 'base64url');
    const key = scryptSync('correct horse battery', salt, 32, { N: 1024, r: 8, p: 1 });
    const old = ['scrypt', '1', '10', '8', '1', parts[5], key.toString('base64url')].join('$');
    expect(await verifyPassword('correct horse battery', old)).toEqual({ ok: true, stale: true });
    expect(await verifyPassword('wrong', old)).toEqual({ ok: false, stale: false });
  });

  it.each([
    'plain text',
    '',
    'scrypt$2$15$8$1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5',
    'scrypt$1$40$8$1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5',
    'scrypt$1$15$8$1$$a2V5a2V5a2V5a2V5a2V5a2V5',
    'scrypt$1$x$8$1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5',
  ])('refuse a malformed or out-of-bounds stored hash %j without throwing', async (stored) => {
    expect(await verifyPassword('anything', stored)).toEqual({ ok: false, stale: false });
  });
});
