/**
 * An error from the API as the person sees it: the API's own message, what to do when it is
 * a throttle (retry-after), and the trace id to quote to the operator.
 */
import { ApiError } from '../api';

export function ErrorAlert({ error, title }: { error: unknown; title?: string }) {
  if (error === null || error === undefined) return null;
  const apiError = error instanceof ApiError ? error : null;
  const raw = error instanceof Error ? error.message : String(error);
  // The API's throttles say "Try again later."; with the wait known, the wait says it instead.
  const message = apiError?.retryAfter == null ? raw : raw.replace(/\s*Try again later\.?$/, '');
  return (
    <div className="alert error" role="alert">
      {title === undefined ? null : <strong>{title} </strong>}
      {message}
      {apiError?.retryAfter == null ? null : (
        <> Try again in {formatWait(apiError.retryAfter)}.</>
      )}
      {apiError?.traceId == null ? null : <span className="trace">trace id {apiError.traceId}</span>}
    </div>
  );
}

function formatWait(seconds: number): string {
  if (seconds < 90) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  return `${Math.ceil(seconds / 60)} minutes`;
}
