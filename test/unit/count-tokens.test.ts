import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { describe, expect, it } from 'vitest';
import { PLAIN_TEXT_ENCODING, countPromptTokens, countTextTokens, linearPieces } from '../../src/tokens/count-tokens.js';

describe('countPromptTokens (SPEC.md: Kimi template arithmetic over o200k)', () => {
  it('counts the seed\'s "Hello" request as 9', () => {
    expect(countPromptTokens([{ role: 'user', content: 'Hello' }])).toBe(9);
  });

  it("counts the seed's two-message request as 28", () => {
    expect(
      countPromptTokens([
        { role: 'assistant', content: 'Hello! How can I help you today?' },
        { role: 'user', content: 'What model are you?' },
      ]),
    ).toBe(28);
  });

  it('grows with text and with tools', () => {
    const base = countPromptTokens([{ role: 'user', content: 'Hello' }]);
    const longer = countPromptTokens([{ role: 'user', content: 'Hello there, how are you doing today?' }]);
    expect(longer).toBeGreaterThan(base);
    const withTools = countPromptTokens(
      [{ role: 'user', content: 'Hello' }],
      [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
    );
    expect(withTools).toBeGreaterThan(base);
  });

  it('counts text with o200k', () => {
    expect(countTextTokens('')).toBe(0);
    expect(countTextTokens('Hello')).toBe(1);
    expect(countTextTokens('안녕하세요')).toBeGreaterThan(0);
  });
});

describe('special tokens in user text', () => {
  it('counts a literal <|endoftext|> as text instead of throwing', () => {
    expect(countTextTokens('a <|endoftext|> b')).toBeGreaterThan(3);
    expect(countPromptTokens([{ role: 'user', content: '<|im_start|>system' }])).toBeGreaterThan(9);
  });
});

describe('long runs', () => {
  it('counts long runs of one character class in linear time, close to the exact count', () => {
    for (const unit of ['a', '가', '!', ' ', '\n', 'ab12']) {
      const text = unit.repeat(200_000 / unit.length);
      const tokens = countTextTokens(text);
      expect(tokens).toBeGreaterThan(0);
      // At most one token per 128-character slice more or less than a slice-free count of a shorter sample.
      const sample = unit.repeat(1024 / unit.length);
      const perChar = countTextTokens(sample) / sample.length;
      expect(Math.abs(tokens / text.length - perChar)).toBeLessThan(1 / 128 + 0.01);
    }
  });

  it('counts text with ordinary words exactly as o200k does', () => {
    const prose = 'The quick brown fox jumps over the lazy dog. '.repeat(50);
    expect(countTextTokens(prose)).toBe(countTokens(prose));
    expect(countTextTokens(`${prose}https://example.com/${'x'.repeat(300)}`)).toBeGreaterThan(countTokens(prose));
  });

  it('slices each run from its first character to its last, and counts the text between as it is', () => {
    const text = `${'word '.repeat(10)}${'x'.repeat(300)} more words${' '.repeat(201)}end`;
    const count = (piece: string): number => countTokens(piece, PLAIN_TEXT_ENCODING);
    const expected =
      count('word '.repeat(10)) +
      2 * count('x'.repeat(128)) +
      count('x'.repeat(44)) +
      count(' more words') +
      count(' '.repeat(128)) +
      count(' '.repeat(73)) +
      count('end');
    expect(countTextTokens(text)).toBe(expected);
  });

  it('counts a run of millions of characters (a 16 MiB body can hold one) without overflowing the stack', () => {
    for (const unit of ['y', ' ']) {
      const text = `start ${unit.repeat(9_000_000)} end`;
      const tokens = countTextTokens(text);
      const perChar = countTextTokens(unit.repeat(1024)) / 1024;
      expect(Math.abs(tokens / text.length - perChar)).toBeLessThan(1 / 128 + 0.01);
    }
  });
});


/** The regular-expression cutting linearPieces replaced, kept as the reference its one pass must match. */
function* regexPieces(text: string): Generator<string> {
  const longRun = /\S{128}|\s{128}/g;
  let last = 0;
  for (let run = longRun.exec(text); run !== null; run = longRun.exec(text)) {
    const spaces = /\s/.test(run[0].charAt(0));
    const next = spaces ? /\S/g : /\s/g;
    next.lastIndex = run.index + 128;
    const end = next.exec(text)?.index ?? text.length;
    if (run.index > last) yield text.slice(last, run.index);
    for (let at = run.index; at < end; at += 128) yield text.slice(at, Math.min(at + 128, end));
    last = end;
    longRun.lastIndex = end;
  }
  if (last < text.length) yield text.slice(last);
}

describe('linearPieces', () => {
  it('cuts text exactly where the regular expression \\S{128}|\\s{128} did, for every kind of space', () => {
    // Every character \s matches, and non-space units (a surrogate pair among them).
    const spaces = ['\t', '\n', '\v', '\f', '\r', ' ', '\u00a0', '\u1680', '\u2000', '\u200a', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000', '\ufeff'];
    const others = ['a', '가', '!', '\u0085', '\u180e', '\u200b', '\ud83d\ude00', '\u00ff'];
    // xorshift32, seeded: the same texts on every run.
    let state = 0x9e3779b9;
    const random = (n: number): number => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) % n;
    };
    for (let round = 0; round < 300; round++) {
      let text = '';
      const runs = 1 + random(8);
      for (let r = 0; r < runs; r++) {
        const pool = r % 2 === 0 ? others : spaces;
        // Run lengths around the slice: 1, 127, 128, 129, 256, 300...
        const length = [1, 5, 127, 128, 129, 255, 256, 300][random(8)] ?? 1;
        for (let i = 0; i < length; i++) text += pool[random(pool.length)];
      }
      expect([...linearPieces(text)]).toEqual([...regexPieces(text)]);
    }
  });

  it('yields a text without long runs whole, and nothing for an empty one', () => {
    const prose = 'The quick brown fox jumps over the lazy dog. '.repeat(50);
    expect([...linearPieces(prose)]).toEqual([prose]);
    expect([...linearPieces('')]).toEqual([]);
    const longWord = 'x'.repeat(300);
    expect([...linearPieces(longWord)]).toEqual(['x'.repeat(128), 'x'.repeat(128), 'x'.repeat(44)]);
  });
});
