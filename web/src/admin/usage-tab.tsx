/** Operator: everybody's usage per day and model (GET /api/admin/usage/daily), with totals. */
import { useState } from 'react';
import { lastDays, type DailyRow } from '../usage/daily-series';
import { Segmented } from '../usage/segmented';
import { useApiData } from '../components/use-api-data';
import { UsageOverview } from '../usage/usage-overview';
import { adminPath } from './admin-api';

type Days = '7' | '30' | '90';
const RANGE_OPTIONS: ReadonlyArray<{ value: Days; label: string }> = [
  { value: '7', label: '7 days' },
  { value: '30', label: '30 days' },
  { value: '90', label: '90 days' },
];

export function UsageTab({ knownModels, currency }: { knownModels: readonly string[]; currency: string }) {
  const [days, setDays] = useState<Days>('30');
  const [clock, setClock] = useState(() => ({ now: Date.now(), refresh: 0 }));
  const range = lastDays(Number(days), clock.now);
  const daily = useApiData<{ days: DailyRow[] }>(adminPath('/usage/daily', { since: range.since, until: range.until }), clock.refresh);
  return (
    <section aria-labelledby="admin-usage-heading">
      <div className="row">
        <h2 id="admin-usage-heading">Everyone’s usage</h2>
        <span className="spacer" />
        <Segmented<Days> legend="Range" options={RANGE_OPTIONS} value={days} onChange={setDays} />
        <button
          type="button"
          className="button secondary small"
          disabled={daily.loading}
          onClick={() => setClock((previous) => ({ now: Date.now(), refresh: previous.refresh + 1 }))}
        >
          Refresh
        </button>
      </div>
      <UsageOverview daily={daily} range={range} knownModels={knownModels} currency={currency} />
    </section>
  );
}
