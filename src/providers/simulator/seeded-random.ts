/**
 * A small seeded PRNG (mulberry32). The simulator needs reproducible replies for a given
 * `seed` (OpenAI's and Moonshot's `seed` parameter), and Math.random cannot be seeded.
 * Quality is ample for picking words and sizes; it is not for anything secret.
 */
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A seed mixed from several integers, so (seed, choice, stream) triples get unrelated sequences. */
  static mix(...parts: readonly number[]): number {
    let h = 0x811c9dc5;
    for (const part of parts) {
      // Fold in 53-bit integers (JSON seeds can exceed 32 bits) as two 32-bit halves.
      const high = Math.floor(part / 0x1_0000_0000) >>> 0;
      const low = part >>> 0;
      h = Math.imul(h ^ low, 0x01000193) >>> 0;
      h = Math.imul(h ^ high, 0x01000193) >>> 0;
      h ^= h >>> 15;
    }
    return h >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  }

  /** An integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('cannot pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** `count` distinct items in random order (all of them when count >= length). */
  sample<T>(items: readonly T[], count: number): T[] {
    const pool = items.slice();
    for (let i = pool.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [pool[i], pool[j]] = [pool[j] as T, pool[i] as T];
    }
    return pool.slice(0, Math.max(0, count));
  }

  alphanumeric(length: number): string {
    let out = '';
    for (let i = 0; i < length; i++) out += ALPHANUMERIC[Math.floor(this.next() * ALPHANUMERIC.length)];
    return out;
  }
}
