/**
 * The o200k ranks the server reads (dist/tokens/o200k_base.json, written by
 * scripts/write-token-ranks.mjs during `npm run build`, which `npm test` runs first) are the
 * package's own, and the encoding built from them tokenizes exactly as the package does.
 */
import { readFileSync } from 'node:fs';
import { GptEncoding } from 'gpt-tokenizer/GptEncoding';
import packageRanks from 'gpt-tokenizer/bpeRanks/o200k_base';
import { encode } from 'gpt-tokenizer/encoding/o200k_base';
import { describe, expect, it } from 'vitest';
import { MERGE_CACHE_ENTRIES, o200k } from '../../src/tokens/o200k-encoding.js';

const built = new URL('../../dist/tokens/o200k_base.json', import.meta.url);

describe('the o200k ranks written by the build', () => {
  const file = JSON.parse(readFileSync(built, 'utf8')) as { version: string; ranks: (string | number[])[] };
  const ranks = file.ranks;

  it('name the installed package version they came from', () => {
    const installed = (JSON.parse(readFileSync(new URL('../../node_modules/gpt-tokenizer/package.json', import.meta.url), 'utf8')) as { version: string }).version;
    expect(file.version).toBe(installed);
  });

  it('are the package ranks, entry for entry (byte-sequence tokens included)', () => {
    expect(ranks).toHaveLength(packageRanks.length);
    expect(ranks.some((rank) => Array.isArray(rank))).toBe(true);
    expect(ranks).toEqual(packageRanks);
  });

  it('make an encoding that tokenizes like the package', () => {
    const fromJson = GptEncoding.getEncodingApi('o200k_base', () => ranks);
    const plain = { disallowedSpecial: new Set<string>() };
    for (const text of ['Hello', '안녕하세요, 세계!', 'naïve café 🍵🚀', '  \n\t x', 'const x = { "a": [1, 2] };', '<|endoftext|>', '\u0000\uffff']) {
      expect(fromJson.encode(text, plain)).toEqual(encode(text, plain));
    }
  });
});

describe('the process-wide o200k encoding', () => {
  it('remembers the merges of at most MERGE_CACHE_ENTRIES pre-tokens, and counts the same past that', () => {
    const plain = { disallowedSpecial: new Set<string>() };
    // Made-up words are not tokens of their own: each one is merged, and would be remembered.
    // Letters only (o200k's pre-tokeniser cuts digits off a word): i written in base 26, a to z.
    const letters = (i: number): string => [...i.toString(26)].map((d) => String.fromCharCode(97 + Number.parseInt(d, 26))).join('');
    const words = Array.from({ length: MERGE_CACHE_ENTRIES + 500 }, (_, i) => `qz${letters(i)}xv`);
    const text = words.join(' ');
    const counted = o200k().countTokens(text, plain);
    // The cache is gpt-tokenizer's own field; no method reports its size.
    const cache = (o200k() as unknown as { bytePairEncodingCoreProcessor: { mergeCache?: Map<string, number[]> } }).bytePairEncodingCoreProcessor.mergeCache;
    expect(cache?.size).toBe(MERGE_CACHE_ENTRIES);
    expect(o200k().countTokens(text, plain)).toBe(counted);
    expect(counted).toBe(encode(text, plain).length);
  });
});
