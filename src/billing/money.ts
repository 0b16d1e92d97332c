/**
 * Money is an integer count of micro-units (one millionth of the operator's currency),
 * never a float (docs/billing.md). Amounts cross the boundary as decimal text: parsed
 * digit by digit, printed with 2 to 6 decimals.
 */
export const MICRO_UNITS_PER_UNIT = 1_000_000;

const DECIMAL = /^(-?)(\d+)(?:\.(\d{1,6}))?$/;

/** "5.00" → 5_000_000. Refuses more than 6 decimals rather than rounding money silently. */
export function parseAmount(text: string): number {
  const match = DECIMAL.exec(text.trim());
  if (match === null) {
    throw new RangeError(`${JSON.stringify(text)} is not an amount: use digits with up to 6 decimals, such as 5.00`);
  }
  const [, sign, whole = '0', fraction = ''] = match;
  const micro = Number(whole) * MICRO_UNITS_PER_UNIT + Number(fraction.padEnd(6, '0'));
  if (!Number.isSafeInteger(micro)) throw new RangeError(`${text} is too large an amount`);
  return sign === '-' ? -micro : micro;
}

/** 5_000_000 → "5.00"; 1_234 → "0.001234": at least 2 decimals, at most 6, no trailing zeros beyond 2. */
export function formatAmount(micro: number): string {
  const sign = micro < 0 ? '-' : '';
  const abs = Math.abs(micro);
  const whole = Math.floor(abs / MICRO_UNITS_PER_UNIT);
  const fraction = String(abs % MICRO_UNITS_PER_UNIT).padStart(6, '0').replace(/0{1,4}$/, '');
  return `${sign}${whole}.${fraction.padEnd(2, '0')}`;
}
