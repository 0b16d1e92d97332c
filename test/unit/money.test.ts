import { describe, expect, it } from 'vitest';
import { formatAmount, parseAmount } from '../../src/billing/money.js';
import { costOf, defaultFreeQuota, SEED_PRICES, worstCaseCost } from '../../src/billing/price-list.js';
import { findModel } from '../../src/contract/models.js';

const K25 = SEED_PRICES.find((p) => p.model === 'kimi-k2.5')!;

describe('amounts', () => {
  it('parses currency text to micro-units without floats', () => {
    expect(parseAmount('5.00')).toBe(5_000_000);
    expect(parseAmount('0.1')).toBe(100_000);
    expect(parseAmount('0.000001')).toBe(1);
    expect(parseAmount('49.155')).toBe(49_155_000);
    expect(parseAmount('-2.5')).toBe(-2_500_000);
    expect(() => parseAmount('0.0000001')).toThrow(/6 decimals/);
    expect(() => parseAmount('5,00')).toThrow();
    expect(() => parseAmount('1e3')).toThrow();
  });

  it('prints 2 to 6 decimals', () => {
    expect(formatAmount(5_000_000)).toBe('5.00');
    expect(formatAmount(5_500_000)).toBe('5.50');
    expect(formatAmount(1_234)).toBe('0.001234');
    expect(formatAmount(49_155_000)).toBe('49.155');
    expect(formatAmount(-1)).toBe('-0.000001');
    expect(formatAmount(0)).toBe('0.00');
  });
});

describe('cost', () => {
  it('rounds up once per request, to the micro-unit', () => {
    // 9 × 0.6 + 184 × 3.0 = 557.4 → 558
    expect(costOf(K25, { promptTokens: 9, cachedTokens: 0, completionTokens: 184 })).toBe(558);
    // cached input is cheaper: 9 × 0.1 = 0.9 → 1
    expect(costOf(K25, { promptTokens: 9, cachedTokens: 9, completionTokens: 0 })).toBe(1);
    expect(costOf(K25, { promptTokens: 0, cachedTokens: 0, completionTokens: 0 })).toBe(0);
  });

  it('bills cache writes at their own price, each prompt token once', () => {
    const price = { ...K25, cacheWrite: 750_000 };
    // 2 cached × 0.1 + 5 written × 0.75 + 3 uncached × 0.6 + 1 × 3.0 = 0.2 + 3.75 + 1.8 + 3 = 8.75 → 9
    expect(costOf(price, { promptTokens: 10, cachedTokens: 2, cacheWriteTokens: 5, completionTokens: 1 })).toBe(9);
    // More written than the uncached part is clamped to it: 2 cached, 8 written, none at the input price.
    // 0.2 + 8 × 0.75 = 6.2 → 7
    expect(costOf(price, { promptTokens: 10, cachedTokens: 2, cacheWriteTokens: 50, completionTokens: 0 })).toBe(7);
  });

  it('holds every prompt token at the dearer of the input and cache-write prices', () => {
    // 9 × 1.2 + 100 × 3.0 = 310.8 → 311; at the input price it would be 305.4 → 306.
    expect(worstCaseCost({ ...K25, cacheWrite: 1_200_000 }, 9, 100, 1)).toBe(311);
    // A cache write cheaper than the input changes nothing.
    expect(worstCaseCost({ ...K25, cacheWrite: 1 }, 9, 100, 1)).toBe(306);
  });

  it('holds n × the completion cap as the worst case, the model default when max_tokens is absent', () => {
    const model = findModel('kimi-k2.5')!;
    expect(worstCaseCost(K25, 9, model.defaultMaxTokens, 1)).toBe(98_310);
    expect(worstCaseCost(K25, 9, 100, 3)).toBe(906); // ceil(5.4 + 900)
  });

  it('sizes the default free quota for 500 worst-case "Hello" requests on kimi-k2.5', () => {
    expect(defaultFreeQuota()).toBe(500 * 98_310);
  });
});
