/**
 * How numbers and times read in the console: one money formatter and one time formatter,
 * used on every page. Money is integer micro-units everywhere (docs/billing.md).
 *
 * Money shows the currency and the decimals that fit the amount (2 from 1 up, 4 significant
 * digits below 1, never more than the 6 that exist), with the exact figure on hover
 * (components/money.tsx). Times show in the browser's zone, with the zone on hover
 * (components/local-time.tsx).
 */

const MICRO = 1_000_000;

/** 1234567 micro-units of USD → "1.234567 USD": the exact figure, at least 2 decimals, never rounded. */
export function formatMoneyExact(micro: number, currency: string): string {
  const sign = micro < 0 ? '-' : '';
  const abs = Math.abs(micro);
  const whole = Math.floor(abs / MICRO);
  let fraction = String(abs % MICRO).padStart(6, '0').replace(/0+$/, '');
  if (fraction.length < 2) fraction = fraction.padEnd(2, '0');
  return withCurrency(`${sign}${whole.toLocaleString('en-US')}.${fraction}`, currency);
}

/**
 * The amount as it reads on a page: 2 decimals from 1 up (999997879 → "1,000.00 USD"),
 * 4 significant digits below (155000 → "0.155 USD", 1234 → "0.001234 USD"). Rounds half
 * away from zero on the integer micro-units, so no floating point touches the figure.
 */
export function formatMoney(micro: number, currency: string): string {
  const abs = Math.abs(micro);
  const decimals = abs >= MICRO ? 2 : Math.min(6, 6 - String(abs).length + 4);
  return formatMoneyExact(roundMicro(micro, decimals), currency);
}

function roundMicro(micro: number, decimals: number): number {
  const step = 10 ** (6 - decimals);
  const sign = micro < 0 ? -1 : 1;
  return sign * Math.round(Math.abs(micro) / step) * step;
}

function withCurrency(amount: string, currency: string): string {
  return currency === '' ? amount : `${amount} ${currency}`;
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

/** A moment in the browser's own zone: "Dec 4, 2026, 11:02:41 PM". */
export function formatTime(ms: number): string {
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

/** A day in the browser's own zone: "Dec 4, 2026". */
export function formatDate(ms: number): string {
  return new Date(ms).toLocaleDateString(undefined, { dateStyle: 'medium' });
}

/** The hover text of a time: the moment with its zone named, and the UTC ISO form. */
export function formatTimeWithZone(ms: number): string {
  const local = new Date(ms).toLocaleString(undefined, { dateStyle: 'full', timeStyle: 'long' });
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return `${local} (${zone}) · ${new Date(ms).toISOString()}`;
}

export function formatDuration(ms: number | null): string {
  if (ms === null) return '–';
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} s`;
}
