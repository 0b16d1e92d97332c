/**
 * The console's one money formatter (web/src/format.ts): the currency and the decimals that
 * fit the amount, rounded on integer micro-units; the exact figure for the hover.
 */
import { describe, expect, it } from 'vitest';
import { formatMoney, formatMoneyExact, parseMoney } from '../../web/src/format.js';

describe('formatMoney', () => {
  it('shows 2 decimals from 1 up, rounded half away from zero', () => {
    expect(formatMoney(999_997_879, 'USD')).toBe('1,000.00 USD');
    expect(formatMoney(5_000_000, 'USD')).toBe('5.00 USD');
    expect(formatMoney(1_234_567, 'USD')).toBe('1.23 USD');
    expect(formatMoney(1_235_000, 'USD')).toBe('1.24 USD');
    expect(formatMoney(-1_235_000, 'USD')).toBe('-1.24 USD');
  });

  it('shows 4 significant digits below 1, and never fewer than 2 decimals', () => {
    expect(formatMoney(155_000, 'USD')).toBe('0.155 USD');
    expect(formatMoney(1_234, 'USD')).toBe('0.001234 USD');
    expect(formatMoney(123_456, 'USD')).toBe('0.1235 USD');
    expect(formatMoney(999_999, 'USD')).toBe('1.00 USD');
    expect(formatMoney(1, 'USD')).toBe('0.000001 USD');
    expect(formatMoney(0, 'USD')).toBe('0.00 USD');
  });

  it('keeps every micro-unit in the exact form, which parses back to the same amount', () => {
    for (const micro of [0, 1, 1_234, 155_000, 999_997_879, 10_000_001]) {
      const exact = formatMoneyExact(micro, '');
      expect(parseMoney(exact.replaceAll(',', ''))).toBe(micro);
    }
    expect(formatMoneyExact(999_997_879, 'USD')).toBe('999.997879 USD');
  });
});
