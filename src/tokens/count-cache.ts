/**
 * Remembered token counts of long texts (docs/billing.md, "Counting the prompt").
 *
 * A coding agent sends its whole context on every turn: the same system prompt, the same
 * files, the same earlier turns, with one new message at the end. Counting o200k tokens
 * costs 70 to 370 ns a byte (a 1 MB context takes 70-500 ms of CPU), while a SHA-256 of
 * the same text takes about 1-2 ns a byte. So a text of at least MIN_CHARS characters is
 * counted once and its count kept under the SHA-256 of its UTF-8 bytes; the next request
 * that carries the same text looks its count up instead.
 *
 * What is kept is a digest and a number per text, never the text: no prompt outlives its
 * request in memory, and the cache holds at most MAX_ENTRIES of them (about 150 bytes
 * each), the least recently used going first. A count is the same whether it came from the
 * cache or not, so nothing billed or refused depends on it.
 */
import { hash } from 'node:crypto';

/** Shorter texts are counted each time: their count costs about what the digest would. */
export const MIN_CHARS = 2048;
/** Texts whose counts are kept, across every caller of the process. */
export const MAX_ENTRIES = 8192;

export class TextCountCache {
  readonly #counts = new Map<string, number>();
  #hits = 0;
  #misses = 0;

  constructor(
    private readonly countText: (text: string) => number,
    private readonly maxEntries = MAX_ENTRIES,
    private readonly minChars = MIN_CHARS,
  ) {}

  /** The token count of `text`, from the cache when the same text was counted before. */
  count(text: string): number {
    if (text.length < this.minChars) return this.countText(text);
    const key = hash('sha256', text, 'base64');
    const known = this.#counts.get(key);
    if (known !== undefined) {
      // Most recently used goes last: a Map iterates in insertion order.
      this.#counts.delete(key);
      this.#counts.set(key, known);
      this.#hits++;
      return known;
    }
    this.#misses++;
    const counted = this.countText(text);
    if (this.#counts.size >= this.maxEntries) {
      const oldest = this.#counts.keys().next();
      if (oldest.done !== true) this.#counts.delete(oldest.value);
    }
    this.#counts.set(key, counted);
    return counted;
  }

  /** Lookups of long texts so far (for tests and metrics). */
  stats(): { size: number; hits: number; misses: number } {
    return { size: this.#counts.size, hits: this.#hits, misses: this.#misses };
  }
}
