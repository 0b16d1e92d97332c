/**
 * Usage (`/usage`): the person's own requests over the last 7, 30 or 90 days: totals, daily
 * charts per model, and the recent requests with filters and paging. A refresh button and
 * an auto-refresh switch reload all of it.
 */
import { useEffect, useState } from 'react';
import { Link } from 'wouter';
import { usePageTitle } from '../components/use-page-title';
import { LocalTime } from '../components/local-time';
import { lastDays, type DailyRow } from '../usage/daily-series';
import { Segmented } from '../usage/segmented';
import { currencyOf, modelIdsOf, type ServicesAnswer } from '../usage/services';
import { useApiData } from '../components/use-api-data';
import type { Credential } from '../console-types';
import { UsageOverview } from '../usage/usage-overview';
import { UsageTable, usageQuery, type UsagePage as UsageRowsPage } from '../usage/usage-table';
import './usage-page.css';

type Days = '7' | '30' | '90';
const RANGE_OPTIONS: ReadonlyArray<{ value: Days; label: string }> = [
  { value: '7', label: '7 days' },
  { value: '30', label: '30 days' },
  { value: '90', label: '90 days' },
];
const STATUSES = ['completed', 'failed', 'aborted'] as const;
/** Auto-refresh period: often enough to watch a test run, rarely enough to cost nothing. */
const AUTO_REFRESH_MS = 10_000;

export function UsagePage() {
  usePageTitle('Usage');
  const [days, setDays] = useState<Days>('7');
  const [model, setModel] = useState('');
  const [status, setStatus] = useState('');
  const [credential, setCredential] = useState('');
  const [auto, setAuto] = useState(false);
  // The clock is read on refresh, not during render: the range only moves when asked to.
  const [clock, setClock] = useState(() => ({ now: Date.now(), refresh: 0 }));
  const refresh = () => setClock((previous) => ({ now: Date.now(), refresh: previous.refresh + 1 }));

  useEffect(() => {
    if (!auto) return;
    const timer = setInterval(() => setClock((previous) => ({ now: Date.now(), refresh: previous.refresh + 1 })), AUTO_REFRESH_MS);
    return () => clearInterval(timer);
  }, [auto]);

  const range = lastDays(Number(days), clock.now);
  const services = useApiData<ServicesAnswer>('/api/services');
  const knownModels = modelIdsOf(services.data);
  const currency = currencyOf(services.data);
  const daily = useApiData<{ days: DailyRow[] }>(`/api/usage/daily?${usageQuery({ since: range.since, until: range.until })}`, clock.refresh);
  // Has this person ever made a request? Decides between the first-steps page and the charts.
  const any = useApiData<UsageRowsPage>('/api/usage?limit=1', clock.refresh);
  const credentials = useApiData<{ credentials: Credential[] }>('/api/credentials');
  const loading = daily.loading || any.loading;
  const filters = usageQuery({ since: range.since, until: range.until, model, status, credential });
  const never = any.data !== undefined && any.data.rows.length === 0;

  return (
    <section className="page usage-page">
      <div className="row usage-head">
        <h1>Usage</h1>
        <span className="spacer" />
        <Segmented<Days> legend="Range" options={RANGE_OPTIONS} value={days} onChange={setDays} />
        <label className="auto-refresh">
          <input type="checkbox" checked={auto} onChange={(event) => setAuto(event.target.checked)} /> Auto-refresh
        </label>
        <button type="button" className="button secondary small" onClick={refresh} disabled={loading}>
          Refresh
        </button>
      </div>
      <p className="muted usage-updated" role="status" aria-live="polite">
        {/* Quiet while data is on screen: an auto-refresh every 10 s must not chatter "Loading…" to a screen reader. */}
        {daily.data === undefined ? (
          'Loading…'
        ) : (
          <>
            Updated <LocalTime ms={clock.now} />
            {auto ? `, refreshing every ${AUTO_REFRESH_MS / 1000} s` : ''}.
          </>
        )}
      </p>

      {never ? (
        <div className="card usage-empty">
          <h2>No requests yet</h2>
          <p>
            Your requests show up here with their tokens, cost and trace ids.{' '}
            <Link href="/playground">Try the playground</Link> or call the API with a token from{' '}
            <Link href="/credentials">Credentials</Link>.
          </p>
        </div>
      ) : (
        <>
          <UsageOverview daily={daily} range={range} knownModels={knownModels} currency={currency} />

          <h2 id="recent-requests">Recent requests</h2>
          <form className="row usage-filters" aria-label="Filter requests" onSubmit={(event) => event.preventDefault()}>
            <div className="field">
              <label htmlFor="usage-model">Model</label>
              <select id="usage-model" value={model} onChange={(event) => setModel(event.target.value)}>
                <option value="">All models</option>
                {knownModels.map((id) => (
                  <option key={id} value={id}>
                    {id}
                  </option>
                ))}
              </select>
            </div>
            <div className="field">
              <label htmlFor="usage-credential">Credential</label>
              <select id="usage-credential" value={credential} onChange={(event) => setCredential(event.target.value)}>
                <option value="">All credentials</option>
                {(credentials.data?.credentials ?? []).map((c) => (
                  <option key={c.id} value={c.id}>
                    {c.name}
                  </option>
                ))}
              </select>
            </div>
            <div className="field">
              <label htmlFor="usage-status">Status</label>
              <select id="usage-status" value={status} onChange={(event) => setStatus(event.target.value)}>
                <option value="">Any status</option>
                {STATUSES.map((s) => (
                  <option key={s} value={s}>
                    {s}
                  </option>
                ))}
              </select>
            </div>
            {/* Every row of this filtered view, streamed by the server as CSV (the CLI's columns). */}
            <a className="button secondary usage-download" href={`/api/usage/export.csv?${filters}`} download="moongate-usage.csv">
              Download CSV
            </a>
          </form>
          <UsageTable
            path={`/api/usage?${filters}`}
            refresh={clock.refresh}
            currency={currency}
            caption="Recent requests, newest first"
            emptyText={`No requests match these filters in the last ${days} days.`}
          />
        </>
      )}
    </section>
  );
}
