/**
 * The recent requests: a table of GET /api/usage rows, newest first, with "Load more" paging
 * through the API's `next` cursor. The first page follows the filters and the refresh count;
 * pages loaded after it belong to that first page and are dropped when it changes.
 */
import { useState } from 'react';
import { getJson } from '../api';
import { CopyButton } from '../components/copy-button';
import { ErrorAlert } from '../components/error-alert';
import { LocalTime } from '../components/local-time';
import { Money } from '../components/money';
import type { UsageRow } from '../console-types';
import { formatCount, formatDuration } from '../format';
import { useApiData } from '../components/use-api-data';


export interface UsagePage {
  rows: UsageRow[];
  next: string | null;
}

const PAGE_SIZE = 50;

/** The query string of GET /api/usage for these filters (empty ones left out). */
export function usageQuery(filters: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(filters)) {
    if (value !== undefined && value !== '') params.set(name, String(value));
  }
  return params.toString();
}

interface MorePages {
  /** The first page's path these pages continue. */
  firstPath: string;
  rows: UsageRow[];
  next: string | null;
}

export function UsageTable({
  path,
  refresh,
  currency,
  caption,
  emptyText,
}: {
  /** `/api/usage?…` with the filters, without `before`. */
  path: string;
  refresh: number;
  currency: string;
  caption: string;
  emptyText: string;
}) {
  const firstPath = `${path}${path.includes('?') ? '&' : '?'}limit=${PAGE_SIZE}`;
  const first = useApiData<UsagePage>(firstPath, refresh);
  const [more, setMore] = useState<MorePages | null>(null);
  const [moreError, setMoreError] = useState<unknown>(null);
  const [loadingMore, setLoadingMore] = useState(false);

  const extra = more !== null && more.firstPath === `${refresh}:${firstPath}` ? more : null;
  const rows = [...(first.data?.rows ?? []), ...(extra?.rows ?? [])];
  const next = extra === null ? (first.data?.next ?? null) : extra.next;

  async function loadMore() {
    if (next === null) return;
    const owner = `${refresh}:${firstPath}`;
    setLoadingMore(true);
    setMoreError(null);
    try {
      const page = await getJson<UsagePage>(`${firstPath}&before=${encodeURIComponent(next)}`);
      setMore((previous) => ({
        firstPath: owner,
        rows: [...(previous !== null && previous.firstPath === owner ? previous.rows : []), ...page.rows],
        next: page.next,
      }));
    } catch (error) {
      setMoreError(error);
    } finally {
      setLoadingMore(false);
    }
  }

  return (
    <div className="usage-table">
      <ErrorAlert error={first.error} title="The requests could not be loaded." />
      {first.data === undefined && first.loading ? <p className="loading">Loading requests…</p> : null}
      {first.data !== undefined && rows.length === 0 ? <p className="muted usage-table-empty">{emptyText}</p> : null}
      {rows.length === 0 ? null : (
        <div className="table-wrap tall" aria-busy={first.loading}>
          <table>
            <caption className="visually-hidden">{caption}</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Model</th>
                <th scope="col">Credential</th>
                <th scope="col">Status</th>
                <th scope="col">Stream</th>
                <th scope="col" className="num">Prompt</th>
                <th scope="col" className="num">Cached</th>
                <th scope="col" className="num">Cache write</th>
                <th scope="col" className="num">Completion</th>
                <th scope="col" className="num">Cost</th>
                <th scope="col" className="num">Duration</th>
                <th scope="col" className="num">TTFT</th>
                <th scope="col">Trace id</th>
                <th scope="col">Error</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <tr key={row.traceId}>
                  <td>
                    <LocalTime ms={row.createdAt} />
                  </td>
                  <td>{row.model}</td>
                  <td title={row.credentialId}>{row.credentialName}</td>
                  <td>
                    <StatusBadge status={row.status} />
                  </td>
                  <td>{row.stream ? 'yes' : 'no'}</td>
                  <td className="num">{formatCount(row.promptTokens)}</td>
                  <td className="num">{formatCount(row.cachedTokens)}</td>
                  <td className="num">{formatCount(row.cacheWriteTokens)}</td>
                  <td className="num">{formatCount(row.completionTokens)}</td>
                  <td className="num">
                    <Money micro={row.cost} currency={currency} />
                  </td>
                  <td className="num">{formatDuration(row.durationMs)}</td>
                  <td className="num">{formatDuration(row.ttftMs)}</td>
                  <td>
                    <span className="trace-cell">
                      <code>{row.traceId}</code>
                      <CopyButton text={row.traceId} label="Copy" className="button small secondary copy-trace" />
                    </span>
                  </td>
                  <td>{row.errorCode === null ? <span className="muted">–</span> : <code>{row.errorCode}</code>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ErrorAlert error={moreError} title="More requests could not be loaded." />
      <div className="row usage-table-foot">
        <span className="muted" role="status" aria-live="polite">
          {rows.length === 0 ? '' : `${formatCount(rows.length)} request${rows.length === 1 ? '' : 's'} shown${next === null ? ', all of them' : ''}.`}
        </span>
        {next === null ? null : (
          <button type="button" className="button secondary" onClick={() => void loadMore()} disabled={loadingMore}>
            {loadingMore ? 'Loading…' : 'Load more'}
          </button>
        )}
      </div>
    </div>
  );
}

export function StatusBadge({ status }: { status: string }) {
  const tone = status === 'completed' ? 'ok' : status === 'failed' ? 'danger' : 'muted';
  return <span className={`badge ${tone}`}>{status}</span>;
}
