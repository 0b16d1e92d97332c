/**
 * An amount of money as every page shows it (format.ts): the currency and the decimals that
 * fit, with the exact figure on hover when the shown one is rounded.
 */
import { formatMoney, formatMoneyExact } from '../format';

export function Money({ micro, currency, testId }: { micro: number; currency: string; testId?: string }) {
  const shown = formatMoney(micro, currency);
  const exact = formatMoneyExact(micro, currency);
  return (
    <span className="money" title={exact} data-exact={exact} data-testid={testId}>
      {shown}
    </span>
  );
}
