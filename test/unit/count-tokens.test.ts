import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { describe, expect, it } from 'vitest';
import { PLAIN_TEXT_ENCODING, countPromptTokens, countTextTokens } from '../../src/tokens/count-tokens.js';

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

