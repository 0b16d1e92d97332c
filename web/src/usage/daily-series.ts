/**
 * The daily charts' data: the API's rows per UTC day and model (only days with requests)
 * turned into one point per day of the chosen range, missing days as zeros, so the time axis
 * is continuous and a quiet day reads as a zero rather than as a gap.
 *
 * Self-contained (no imports) so Node tests import it as well as the console.
 */

export const DAY_MS = 86_400_000;

export interface DailyRow {
  /** YYYY-MM-DD, UTC. */
  day: string;
  model: string;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  /** Micro-units. */
  cost: number;
}

export type DailyMetric = 'requests' | 'promptTokens' | 'completionTokens' | 'tokens' | 'cost';

/** One chart point: the day and a value per model (0 for a model without requests that day). */
export type DailyPoint = { day: string } & Record<string, number | string>;

export interface DayRange {
  /** The first day's 00:00 UTC, inclusive (ms). */
  since: number;
  /** The day after the last day, 00:00 UTC, exclusive (ms). */
  until: number;
}

/** The last `days` UTC days, today included. */
export function lastDays(days: number, now: number): DayRange {
  const tomorrow = (Math.floor(now / DAY_MS) + 1) * DAY_MS;
  return { since: tomorrow - days * DAY_MS, until: tomorrow };
}

/** Every UTC day in the range, oldest first, as YYYY-MM-DD. */
export function daysOf(range: DayRange): string[] {
  const days: string[] = [];
  for (let t = range.since; t < range.until; t += DAY_MS) days.push(new Date(t).toISOString().slice(0, 10));
  return days;
}

/** The models that appear in the rows, in the order given by `known` first, then by name. */
export function modelsOf(rows: readonly DailyRow[], known: readonly string[] = []): string[] {
  const seen = new Set(rows.map((row) => row.model));
  const ordered = known.filter((model) => seen.has(model));
  const rest = [...seen].filter((model) => !known.includes(model)).sort();
  return [...ordered, ...rest];
}

function valueOf(row: DailyRow, metric: DailyMetric): number {
  return metric === 'tokens' ? row.promptTokens + row.completionTokens : row[metric];
}

/** One point per day of the range with `metric` per model; days and models without rows are 0. */
export function dailySeries(rows: readonly DailyRow[], range: DayRange, models: readonly string[], metric: DailyMetric): DailyPoint[] {
  const byDay = new Map<string, DailyPoint>();
  for (const day of daysOf(range)) {
    const point: DailyPoint = { day };
    for (const model of models) point[model] = 0;
    byDay.set(day, point);
  }
  for (const row of rows) {
    const point = byDay.get(row.day);
    if (point === undefined || !models.includes(row.model)) continue;
    point[row.model] = (point[row.model] as number) + valueOf(row, metric);
  }
  return [...byDay.values()];
}

export interface UsageTotals {
  requests: number;
  promptTokens: number;
  completionTokens: number;
  /** Micro-units: a sum of integers, exact. */
  cost: number;
}

export function totalsOf(rows: readonly DailyRow[]): UsageTotals {
  const totals: UsageTotals = { requests: 0, promptTokens: 0, completionTokens: 0, cost: 0 };
  for (const row of rows) {
    totals.requests += row.requests;
    totals.promptTokens += row.promptTokens;
    totals.completionTokens += row.completionTokens;
    totals.cost += row.cost;
  }
  return totals;
}
