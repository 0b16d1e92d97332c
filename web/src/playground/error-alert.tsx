/** An API error as the API said it: its code, its message and the trace id to quote. */
export interface ShownError {
  status?: number;
  code: string;
  message: string;
  traceId: string | null;
}

export function ErrorAlert({ error }: { error: ShownError }) {
  return (
    <div className="alert error" role="alert">
      <strong>{error.status !== undefined && error.status > 0 ? `${error.status} ` : ''}{error.code}</strong>: {error.message}
      {error.traceId === null ? null : <span className="trace">trace id {error.traceId}</span>}
    </div>
  );
}
