/**
 * Per-credential request limits (SPEC.md: 20 concurrent requests, 60 requests per second by
 * default), and on top the person's own limits across all their credentials (issue 15,
 * item 6: one person with 50 credentials held 1,000 streams open). Both are taken in one
 * acquire, both or neither. Callers see only this interface, so a Redis implementation for
 * several processes can replace the in-memory one without changing them.
 */
export interface RequestLimits {
  /** Requests admitted in any one-second window. */
  rps: number;
  /** Requests running at once. */
  concurrency: number;
}

export const DEFAULT_REQUEST_LIMITS: Readonly<RequestLimits> = Object.freeze({ rps: 60, concurrency: 20 });

/** A person's limits across all their credentials, unless the operator set their own (PERSON_RPS_LIMIT, PERSON_CONCURRENCY_LIMIT). */
export const DEFAULT_PERSON_LIMITS: Readonly<RequestLimits> = Object.freeze({ rps: 120, concurrency: 40 });

/** A second set of limits one acquire also takes: the person's, keyed by their id. */
export interface SharedLimit {
  key: string;
  limits: RequestLimits;
}

/**
 * One limit an admission must pass: a key (a credential, a person) and its limits. The
 * limiters' `acquireAll` takes several, the first the credential's, and admits into all or none.
 */
export interface LimitEntry {
  key: string;
  limits: RequestLimits;
}

/** A running request's place; release it exactly once, when the request ends. */
export interface Permit {
  release(): void;
}

export type LimitDecision =
  | { admitted: true; permit: Permit }
  | {
      admitted: false;
      limit: 'rps' | 'concurrency';
      /** Whose limit was reached: the credential's own, or its person's. */
      scope: 'credential' | 'person';
      /** Whole seconds, at least 1. */
      retryAfter: number;
    };

export interface RequestLimiter {
  /**
   * Takes a place under `limits` for `key` (the credential) and, when given, under the
   * person's `shared` limits too: both, atomically, or neither.
   */
  acquire(key: string, limits: RequestLimits, shared?: SharedLimit): Promise<LimitDecision>;
  close(): void;
}
