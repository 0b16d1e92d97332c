/**
 * Per-credential request limits (SPEC.md: 20 concurrent requests, 60 requests per second by
 * default). Callers see only this interface, so a Redis implementation for several
 * processes can replace the in-memory one without changing them.
 */
export interface RequestLimits {
  /** Requests admitted in any one-second window. */
  rps: number;
  /** Requests running at once. */
  concurrency: number;
}

export const DEFAULT_REQUEST_LIMITS: Readonly<RequestLimits> = Object.freeze({ rps: 60, concurrency: 20 });

/** A running request's place; release it exactly once, when the request ends. */
export interface Permit {
  release(): void;
}

export type LimitDecision =
  | { admitted: true; permit: Permit }
  | { admitted: false; limit: 'rps' | 'concurrency'; /** Whole seconds, at least 1. */ retryAfter: number };

export interface RequestLimiter {
  acquire(key: string, limits: RequestLimits): Promise<LimitDecision>;
  close(): void;
}
