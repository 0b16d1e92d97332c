/**
 * The console's one door to the server: JSON calls under /api/ with the session cookie,
 * the CSRF token on every state-changing call (docs/console-api.md#csrf), and errors in the
 * API's envelope turned into ApiError (branch on `code`, never on `message`).
 */

export interface Person {
  id: string;
  email: string;
  role: 'admin' | 'user';
}

export interface SessionInfo {
  person: Person;
  csrfToken: string;
  expiresAt?: number;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly traceId: string | null,
    readonly retryAfter: number | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

let csrfToken: string | null = null;

/** Set from /api/session, /api/login and /api/register; kept in memory only. */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export async function api<T>(method: Method, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken !== null) headers['x-csrf-token'] = csrfToken;
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = text === '' ? null : JSON.parse(text);
  } catch {
    // Not JSON: a proxy's error page, for instance. Reported below with the status.
  }
  if (!response.ok) throw toApiError(response, parsed);
  return parsed as T;
}

export function toApiError(response: Response, parsed: unknown): ApiError {
  const envelope = parsed as { error?: { code?: string; message?: string }; trace_id?: string } | null;
  const retryAfter = Number(response.headers.get('retry-after'));
  return new ApiError(
    response.status,
    envelope?.error?.code ?? 'api_error',
    envelope?.error?.message ?? `The server answered ${response.status}.`,
    envelope?.trace_id ?? response.headers.get('x-trace-id'),
    Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null,
  );
}

export const getJson = <T>(path: string): Promise<T> => api<T>('GET', path);
export const postJson = <T>(path: string, body?: unknown): Promise<T> => api<T>('POST', path, body ?? {});
