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

  it('holds n × the completion cap as the worst case, the model default when max_tokens is absent', () => {
    const model = findModel('kimi-k2.5')!;
    expect(worstCaseCost(K25, 9, model.defaultMaxTokens, 1)).toBe(98_310);
    expect(worstCaseCost(K25, 9, 100, 3)).toBe(906); // ceil(5.4 + 900)
  });

  it('sizes the default free quota for 500 worst-case "Hello" requests on kimi-k2.5', () => {
    expect(defaultFreeQuota()).toBe(500 * 98_310);
  });
});
