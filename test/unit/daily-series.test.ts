/**
 * The usage charts' data (web/src/usage/daily-series.ts): every day of the range present,
 * quiet days and absent models as zeros, UTC day boundaries, exact integer sums.
 */
import { describe, expect, it } from 'vitest';
import { DAY_MS, dailySeries, daysOf, lastDays, modelsOf, totalsOf, type DailyRow } from '../../web/src/usage/daily-series.js';

const NOW = Date.UTC(2026, 10, 25, 23, 59, 59, 999);
const row = (day: string, model: string, n: number): DailyRow => ({
  day,
  model,
  requests: n,
  promptTokens: 10 * n,
  completionTokens: 100 * n,
  cost: 1_000_001 * n,
});

describe('daily series', () => {
  it('covers the last N UTC days, today included, from midnight to midnight', () => {
    const range = lastDays(7, NOW);
    expect(range.since).toBe(Date.UTC(2026, 10, 19));
    expect(range.until).toBe(Date.UTC(2026, 10, 26));
    expect(daysOf(range)).toEqual(['2026-11-19', '2026-11-20', '2026-11-21', '2026-11-22', '2026-11-23', '2026-11-24', '2026-11-25']);
    // Midnight itself is the new day: its range ends a day later.
    expect(lastDays(7, Date.UTC(2026, 10, 26)).until).toBe(Date.UTC(2026, 10, 26) + DAY_MS);
    expect(daysOf(lastDays(90, NOW))).toHaveLength(90);
  });

  it('fills days without requests and models absent on a day with zeros', () => {
    const rows = [row('2026-11-20', 'kimi-k2.5', 2), row('2026-11-25', 'kimi-k2.5', 1), row('2026-11-25', 'kimi-k2-turbo-preview', 3)];
    const models = modelsOf(rows, ['kimi-k2-thinking-turbo', 'kimi-k2.5', 'kimi-k2-turbo-preview']);
    expect(models).toEqual(['kimi-k2.5', 'kimi-k2-turbo-preview']);
    const series = dailySeries(rows, lastDays(7, NOW), models, 'requests');
    expect(series).toHaveLength(7);
    expect(series[0]).toEqual({ day: '2026-11-19', 'kimi-k2.5': 0, 'kimi-k2-turbo-preview': 0 });
    expect(series[1]).toEqual({ day: '2026-11-20', 'kimi-k2.5': 2, 'kimi-k2-turbo-preview': 0 });
    expect(series[6]).toEqual({ day: '2026-11-25', 'kimi-k2.5': 1, 'kimi-k2-turbo-preview': 3 });
    expect(dailySeries(rows, lastDays(7, NOW), models, 'tokens')[6]).toEqual({ day: '2026-11-25', 'kimi-k2.5': 110, 'kimi-k2-turbo-preview': 330 });
  });

  it('drops rows outside the range and lists unknown models after the known ones', () => {
    const rows = [row('2026-10-01', 'old-model', 1), row('2026-11-24', 'b-model', 1), row('2026-11-24', 'kimi-k2.5', 1)];
    expect(modelsOf(rows, ['kimi-k2.5'])).toEqual(['kimi-k2.5', 'b-model', 'old-model']);
    const series = dailySeries(rows, lastDays(7, NOW), ['kimi-k2.5', 'b-model', 'old-model'], 'cost');
    expect(series.reduce((sum, point) => sum + (point['old-model'] as number), 0)).toBe(0);
    expect(series[5]).toMatchObject({ 'kimi-k2.5': 1_000_001, 'b-model': 1_000_001 });
  });

  it('totals are exact integer sums of micro-units', () => {
    const totals = totalsOf([row('2026-11-24', 'a', 3), row('2026-11-25', 'b', 4)]);
    expect(totals).toEqual({ requests: 7, promptTokens: 70, completionTokens: 700, cost: 7_000_007 });
  });
});
