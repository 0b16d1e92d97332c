/**
 * How an upstream's failures become MoongateErrors (SPEC.md, "Errors").
 *
 * Two rules hold everywhere here:
 * - the upstream's problems with the operator's account (401, 403, 404, an empty balance)
 *   are the operator's, so the client sees api_error, never invalid_token or used_up;
 * - no message carries the upstream's raw body or a key: only a 400's message is passed on,
 *   redacted and truncated, because it tells the client what to fix in its request.
 */
import { MoongateError } from '../../contract/index.js';
import { isJsonObject } from './chunk-reader.js';

export type UpstreamHeaders = Record<string, string | string[] | undefined>;

/** How much of an error body is read; the rest is discarded. */
export const ERROR_BODY_LIMIT_BYTES = 64 * 1024;

/** The longest upstream message passed on to a client. */
export const UPSTREAM_MESSAGE_LIMIT = 300;

/** What an upstream said in an error body, in whichever of the common shapes it used. */
export interface UpstreamErrorDetail {
  /** `error.type` (OpenAI, Moonshot) or top-level `type` (vLLM). */
  type?: string;
  message?: string;
}

/**
 * Reads the shapes OpenAI-compatible servers use: `{"error": {"type", "message"}}` (OpenAI,
 * Moonshot), `{"error": "text"}` (Ollama, llama.cpp), `{"object": "error", "type", "message"}`
 * (vLLM, SGLang) and `{"detail": "text"}` (FastAPI validation).
 */
export function parseUpstreamError(body: string): UpstreamErrorDetail {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return {};
  }
  if (!isJsonObject(parsed)) return {};
  const detail: UpstreamErrorDetail = {};
  const source = isJsonObject(parsed.error) ? parsed.error : parsed;
  if (typeof source.type === 'string') detail.type = source.type;
  if (typeof source.message === 'string') detail.message = source.message;
  else if (typeof parsed.error === 'string') detail.message = parsed.error;
  else if (typeof parsed.detail === 'string') detail.message = parsed.detail;
  return detail;
}

const KEY_PATTERN = /\bsk-[A-Za-z0-9_-]+/g;
const BEARER_PATTERN = /\bBearer\s+[^\s"',;]+/gi;

/** Removes anything that looks like a key (`sk-...`, `Bearer ...`) and each of `secrets`. */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join('[redacted]');
  }
  return out.replace(BEARER_PATTERN, 'Bearer [redacted]').replace(KEY_PATTERN, 'sk-[redacted]');
}

/** An upstream message fit for a client: secrets redacted first, then cut to UPSTREAM_MESSAGE_LIMIT. */
export function clientSafeMessage(message: string, secrets: readonly string[] = []): string {
  const redacted = redactSecrets(message.trim(), secrets);
  return redacted.length > UPSTREAM_MESSAGE_LIMIT ? `${redacted.slice(0, UPSTREAM_MESSAGE_LIMIT - 3)}...` : redacted;
}

/** `retry-after` in whole seconds (RFC 9110, 10.2.3: delay-seconds or an HTTP-date); 1 when absent or unreadable. */
export function parseRetryAfter(header: string | string[] | undefined, now: number = Date.now()): number {
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  if (value === undefined || value === '') return 1;
  if (/^[0-9]+(\.[0-9]+)?$/.test(value)) return Math.max(1, Math.ceil(Number(value)));
  const date = Date.parse(value);
  if (Number.isNaN(date)) return 1;
  return Math.max(1, Math.ceil((date - now) / 1000));
}

/** The default status mapping (the brief for moongate's providers; SPEC.md, last section). */
export function mapUpstreamStatus(
  status: number,
  detail: UpstreamErrorDetail,
  headers: UpstreamHeaders,
  secrets: readonly string[] = [],
): MoongateError {
  switch (status) {
    case 400:
      return detail.message !== undefined && detail.message.trim() !== ''
        ? new MoongateError('bad_request', clientSafeMessage(detail.message, secrets))
        : new MoongateError('bad_request', 'the upstream rejected the request');
    case 401:
    case 403:
      return new MoongateError('api_error', "the upstream rejected the operator's credentials");
    case 404:
      return new MoongateError('api_error', 'the upstream does not serve this model');
    case 408:
    case 504:
      return new MoongateError('timeout');
    case 429:
      return new MoongateError('too_many_requests', 'the upstream is rate limiting requests, please retry later', {
        retryAfter: parseRetryAfter(headers['retry-after']),
      });
    default:
      return new MoongateError('api_error', `the upstream failed (status ${status})`);
  }
}

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  if ('code' in error && typeof error.code === 'string') return error.code;
  // Node's happy-eyeballs connect reports every address's failure in an AggregateError.
  if (error instanceof AggregateError) return errorCode(error.errors[0]);
  return undefined;
}

/**
 * Maps a failure of the connection itself, branching on undici's stable codes
 * (undici docs, "Errors"). `phase` says whether the response had started: before it,
 * any failure means the upstream could not be reached (ECONNREFUSED, ENOTFOUND,
 * UND_ERR_SOCKET...); after it, the stream was cut short.
 */
export function mapTransportError(error: unknown, phase: 'request' | 'body'): MoongateError {
  if (error instanceof MoongateError) return error;
  const code = errorCode(error);
  if (code !== undefined && TIMEOUT_CODES.has(code)) return new MoongateError('timeout', undefined, { cause: error });
  return phase === 'request'
    ? new MoongateError('api_error', 'the upstream could not be reached', { cause: error })
    : new MoongateError('api_error', 'the upstream closed the stream early', { cause: error });
}

