/**
 * Totals as stat cards and the three daily charts (requests, tokens, cost per model) for one
 * range: the person's own (GET /api/usage/daily) or everybody's on the operator page
 * (GET /api/admin/usage/daily); both answer `{days: DailyRow[]}`.
 */
import { useState, type ReactNode } from 'react';
import { ErrorAlert } from '../components/error-alert';
import { Money } from '../components/money';
import { formatCount } from '../format';
import { DailyChart } from './daily-chart';
import { modelsOf, totalsOf, type DailyMetric, type DailyRow, type DayRange } from './daily-series';
import { Segmented } from './segmented';
import type { ApiData } from '../components/use-api-data';

type TokenMetric = Extract<DailyMetric, 'tokens' | 'promptTokens' | 'completionTokens'>;

const TOKEN_OPTIONS: ReadonlyArray<{ value: TokenMetric; label: string }> = [
  { value: 'tokens', label: 'All' },
  { value: 'promptTokens', label: 'Prompt' },
  { value: 'completionTokens', label: 'Completion' },
];

export function UsageOverview({
  daily,
  range,
  knownModels,
  currency,
}: {
  daily: ApiData<{ days: DailyRow[] }>;
  range: DayRange;
  knownModels: readonly string[];
  currency: string;
}) {
  const [tokenMetric, setTokenMetric] = useState<TokenMetric>('tokens');
  const rows = daily.data?.days ?? [];
  const models = modelsOf(rows, knownModels);
  const totals = totalsOf(rows);
  const chart = { rows, range, models, knownModels, currency };
  return (
    <>
      <ErrorAlert error={daily.error} title="The daily totals could not be loaded." />
      <div className="grid stats usage-stats" aria-busy={daily.loading}>
        <Stat label="Requests" value={daily.data === undefined ? '…' : formatCount(totals.requests)} />
        <Stat label="Prompt tokens" value={daily.data === undefined ? '…' : formatCount(totals.promptTokens)} />
        <Stat label="Completion tokens" value={daily.data === undefined ? '…' : formatCount(totals.completionTokens)} />
        <Stat label="Cost" value={daily.data === undefined ? '…' : <Money micro={totals.cost} currency={currency} />} />
      </div>
      <div className="usage-charts">
        <DailyChart title="Requests per day" metric="requests" {...chart} />
        <DailyChart
          title="Tokens per day"
          metric={tokenMetric}
          {...chart}
          controls={<Segmented<TokenMetric> legend="Which tokens" options={TOKEN_OPTIONS} value={tokenMetric} onChange={setTokenMetric} />}
        />
        <DailyChart title={`Cost per day (${currency})`} metric="cost" {...chart} />
      </div>
    </>
  );
}

function Stat({ label, value }: { label: string; value: ReactNode }) {
  return (
    <div className="card stat" role="group" aria-label={label}>
      <div className="label">{label}</div>
      <div className="value">{value}</div>
    </div>
  );
}
