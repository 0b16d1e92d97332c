import { describe, expect, it } from 'vitest';
import { countPromptTokens, countTextTokens } from '../../src/tokens/count-tokens.js';

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
