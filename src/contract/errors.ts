/**
 * The one error catalogue (SPEC.md, "Errors"). Every error the API returns is a
 * MoongateError with one of these codes; callers branch on `code`, never on text.
 */
export const ERROR_CATALOGUE = {
  bad_request: { status: 400, message: 'The request is invalid.' },
  no_token: { status: 400, message: 'The authorization header with a Bearer token is missing.' },
  token_mismatched: { status: 400, message: 'The specified token is not matched with API.' },
  api_not_implemented: { status: 400, message: 'The API is not implemented.' },
  invalid_token: { status: 401, message: 'The specified token is invalid or wrong.' },
  token_expired: { status: 401, message: 'The specified token has expired.' },
  disabled: { status: 403, message: 'The credential or application has been disabled.' },
  used_up: {
    status: 403,
    message: 'Your balance is not sufficient for current request, please buy more quota and try again.',
  },
  no_api: { status: 404, message: 'The requested API does not exist.' },
  model_not_found: { status: 404, message: 'The requested model does not exist.' },
  request_timeout: { status: 408, message: 'The request body did not arrive in time.' },
  too_large: { status: 413, message: 'The request body is too large.' },
  too_many_requests: { status: 429, message: 'You have exceeded the rate limit.' },
  api_error: { status: 500, message: 'Internal server error.' },
  timeout: { status: 504, message: 'The upstream did not answer in time.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export const ERROR_CODES = Object.keys(ERROR_CATALOGUE) as ErrorCode[];

export interface ErrorEnvelope {
  success: false;
  error: { code: ErrorCode; message: string };
  trace_id: string;
}

export class MoongateError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Seconds, for 429 (sent as `retry-after`). */
  readonly retryAfter: number | undefined;
  /**
   * The HTTP status an upstream answered, set by the provider that made this error from
   * that answer. The router decides retries from it (a 5xx passes, a 401 or 404 is the
   * channel's configuration) without knowing which kind of provider it came from, as the
   * AI SDK's retry helper asks `APICallError.isRetryable`. Never sent to the client.
   */
  readonly upstreamStatus: number | undefined;

  constructor(
    code: ErrorCode,
    message?: string,
    options?: { cause?: unknown; retryAfter?: number; upstreamStatus?: number },
  ) {
    super(message ?? ERROR_CATALOGUE[code].message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MoongateError';
    this.code = code;
    this.status = ERROR_CATALOGUE[code].status;
    this.retryAfter = options?.retryAfter;
    this.upstreamStatus = options?.upstreamStatus;
  }
}

/** The error as the catalogue knows it: a MoongateError as is, anything else as api_error (kept as the cause, for logs). */
export function asMoongateError(error: unknown): MoongateError {
  return error instanceof MoongateError ? error : new MoongateError('api_error', undefined, { cause: error });
}

export function errorEnvelope(error: MoongateError, traceId: string): ErrorEnvelope {
  return { success: false, error: { code: error.code, message: error.message }, trace_id: traceId };
}
