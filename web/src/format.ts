/** How numbers read in the console. Money is integer micro-units everywhere (docs/billing.md). */

const MICRO = 1_000_000;

/** 1234567 micro-units of USD → "1.234567 USD"; at least 2 decimals, at most 6, never rounded. */
export function formatMoney(micro: number, currency: string): string {
  const sign = micro < 0 ? '-' : '';
  const abs = Math.abs(micro);
  const whole = Math.floor(abs / MICRO);
  let fraction = String(abs % MICRO).padStart(6, '0').replace(/0+$/, '');
  if (fraction.length < 2) fraction = fraction.padEnd(2, '0');
  return `${sign}${whole.toLocaleString('en-US')}.${fraction} ${currency}`;
}

/** Parses "12.5" into micro-units exactly (no floating point), or null. */
export function parseMoney(text: string): number | null {
  const match = /^\s*(\d{1,9})(?:\.(\d{1,6}))?\s*$/.exec(text);
  if (match === null) return null;
  return Number(match[1]) * MICRO + Number((match[2] ?? '').padEnd(6, '0'));
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

export function formatTime(ms: number): string {
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

export function formatDuration(ms: number | null): string {
  if (ms === null) return '–';
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} s`;
}
