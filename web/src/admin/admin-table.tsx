/**
 * The block every operator tab repeats around its table: the load error, the last action's
 * error and confirmation (with its live region), the tab's forms, then "loading", the empty
 * note or the table. One component so the tabs differ only in what is theirs.
 */
import type { ReactNode } from 'react';
import type { ApiData } from '../components/use-api-data';
import { ErrorAlert } from '../components/error-alert';
import type { Action } from './use-action';

export function AdminTable({
  load,
  loadError,
  action,
  showActionError = true,
  forms,
  loadingText,
  empty,
  rows,
  showEmptyTable = false,
  children,
}: {
  load: Pick<ApiData<unknown>, 'data' | 'error' | 'loading'>;
  /** The title of the load error ("People could not be loaded."). */
  loadError: string;
  /** The tab's action: its error, and its confirmation in a live region and an ok alert. */
  action?: Action;
  /** False while a dialog shows the action's error itself. */
  showActionError?: boolean;
  /** Forms shown between the alerts and the table (edit, credit, limits). */
  forms?: ReactNode;
  /** Shown while the first answer loads; none when left out. */
  loadingText?: string;
  /** Shown when the answer has no rows. */
  empty?: ReactNode;
  rows: number;
  /** The table even with no rows, once loaded (a fixed list such as the models' prices). */
  showEmptyTable?: boolean;
  /** The <table>. */
  children: ReactNode;
}) {
  const loaded = load.data !== undefined;
  return (
    <>
      <ErrorAlert error={load.error} title={loadError} />
      {action === undefined ? null : (
        <>
          {showActionError ? <ErrorAlert error={action.error} /> : null}
          <p className="visually-hidden" role="status" aria-live="polite">
            {action.done}
          </p>
          {action.done === '' ? null : <div className="alert ok">{action.done}</div>}
        </>
      )}
      {forms}
      {loadingText !== undefined && !loaded && load.loading ? <p className="loading">{loadingText}</p> : null}
      {empty !== undefined && loaded && rows === 0 ? <p className="muted">{empty}</p> : null}
      {rows > 0 || (showEmptyTable && loaded) ? (
        <div className="table-wrap" aria-busy={load.loading}>
          {children}
        </div>
      ) : null}
    </>
  );
}
