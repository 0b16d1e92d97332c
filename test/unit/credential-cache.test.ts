/**
 * The credential cache alone: entries expire after the TTL (injected clock), the bus drops
 * what a change names, the oldest entry not read since it was passed over goes first (a
 * second chance, close to least recently used), and a fill that raced a
 * drop is not kept.
 */
import { describe, expect, it } from 'vitest';
import { CredentialCache } from '../../src/accounts/credential-cache.js';
import { LocalChangeBus } from '../../src/limits/change-bus.js';

const row = (id: string, person: string) => ({ id, person_id: person });

describe('CredentialCache', () => {
  it('keeps an entry for ttlMs, then forgets it', () => {
    let now = 0;
    const cache = new CredentialCache({ ttlMs: 1_000, now: () => now });
    cache.set('a', row('cred_a', 'per_1'), cache.generation);
    now = 999;
    expect(cache.get('a')).toEqual(row('cred_a', 'per_1'));
    now = 1_000;
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('drops a credential, a person’s credentials or everything when the bus says so', async () => {
    const bus = new LocalChangeBus();
    const cache = new CredentialCache({ now: () => 0 });
    cache.listen(bus);
    cache.set('a', row('cred_a', 'per_1'), cache.generation);
    cache.set('b', row('cred_b', 'per_1'), cache.generation);
    cache.set('c', row('cred_c', 'per_2'), cache.generation);
    await bus.publish({ kind: 'model', id: 'kimi-k2.5' });
    expect(cache.size).toBe(3);
    await bus.publish({ kind: 'credential', id: 'cred_c' });
    expect([cache.get('a'), cache.get('b'), cache.get('c')].map((r) => r?.id)).toEqual(['cred_a', 'cred_b', undefined]);
    await bus.publish({ kind: 'person', id: 'per_1' });
    expect(cache.size).toBe(0);
    cache.set('a', row('cred_a', 'per_1'), cache.generation);
    await bus.publish({ kind: 'all' });
    expect(cache.get('a')).toBeUndefined();
  });

  it('evicts the least recently used entry past maxEntries', () => {
    const cache = new CredentialCache({ maxEntries: 2, now: () => 0 });
    cache.set('a', row('cred_a', 'p'), cache.generation);
    cache.set('b', row('cred_b', 'p'), cache.generation);
    expect(cache.get('a')).toBeDefined();
    cache.set('c', row('cred_c', 'p'), cache.generation);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBeDefined();
    expect(cache.get('c')).toBeDefined();
  });

  it('gives a read entry a second chance: it outlives older unread ones, and loses its mark when passed over', () => {
    const cache = new CredentialCache({ maxEntries: 3, now: () => 0 });
    for (const key of ['a', 'b', 'c']) cache.set(key, row(`cred_${key}`, 'p'), cache.generation);
    expect(cache.get('a')).toBeDefined();
    expect(cache.get('b')).toBeDefined();
    // Full: a and b were read, so c (the oldest unread) goes; a and b move on, unmarked.
    cache.set('d', row('cred_d', 'p'), cache.generation);
    expect(cache.size).toBe(3);
    expect(cache.get('c')).toBeUndefined();
    // That read of c changed nothing; now nothing is marked but d, read here, so a goes next.
    expect(cache.get('d')).toBeDefined();
    cache.set('e', row('cred_e', 'p'), cache.generation);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')).toBeDefined();
    expect(cache.get('d')).toBeDefined();
    expect(cache.get('e')).toBeDefined();
  });

  it('does not keep a row read before a drop (it may predate the change)', () => {
    const cache = new CredentialCache({ now: () => 0 });
    const before = cache.generation;
    cache.drop({ kind: 'credential', id: 'cred_a' });
    cache.set('a', row('cred_a', 'per_1'), before);
    expect(cache.get('a')).toBeUndefined();
    cache.set('a', row('cred_a', 'per_1'), cache.generation);
    expect(cache.get('a')).toBeDefined();
  });
});
