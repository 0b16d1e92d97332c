/**
 * What the chat pipeline (chat-gateway.ts) shares with the rest of the server: who is
 * calling, the quota hold billing implements (Admitter → QuotaHold), how a request ended
 * (RequestResult, for settlement and metrics), and what the HTTP layer hands in and gets
 * back (ChatExchange → ChatAnswer). Its own file so billing, observability and http depend
 * on these shapes, not on the pipeline.
 */
import type { CallSignal, ChatCompletion, ChatRequest, KimiModel, MoongateError, Usage } from '../contract/index.js';

/** A request whose completion cap is set: what admission holds for and the upstream gets. */
export type CappedChatRequest = ChatRequest & { max_tokens: number };

/** Who is calling, as authentication found it. */
export interface AuthenticatedCaller {
  credentialId: string;
  personId: string;
  /** The application the request draws on; null for a global credential. */
  applicationId: string | null;
  /** The service being called (for a global credential too). */
  serviceId: string;
  global: boolean;
  /** Per-credential limit overrides (null: the default); absent means the defaults. */
  limits?: { rps: number | null; concurrency: number | null };
  /** The person's limit overrides across their credentials (null: the default); absent means the defaults. */
  personLimits?: { rps: number | null; concurrency: number | null };
}

export type Authenticate = (authorization: string | undefined, serviceSlug: string) => Promise<AuthenticatedCaller>;

/**
 * A caller let through authentication and the rate and concurrency limits, before its
 * body was read. Its permit is held until release(), which the HTTP layer calls once the
 * request is over, whichever way it ends.
 */
export interface CallerPass {
  caller: AuthenticatedCaller;
  /** Epoch ms when the limits counted the request. */
  admittedAt: number;
  /** Gives the concurrency slot back; safe to call more than once. */
  release(): void;
}

/** What admission is asked to let through. */
export interface HoldRequest {
  traceId: string;
  caller: AuthenticatedCaller;
  /** Epoch ms when the limits counted the request; the usage row's time. */
  admittedAt?: number;
  model: KimiModel;
  /** With its completion cap: the most the upstream may generate per choice. */
  request: CappedChatRequest;
  /** The gateway's own count of the prompt. */
  promptTokens: number;
}

/** How a request that was admitted ended. */
export type RequestEnding = 'completed' | 'failed' | 'aborted';

export interface RequestResult {
  outcome: RequestEnding;
  /**
   * What is billed (docs/billing.md, "Early ends"): once the upstream accepted the request,
   * the prompt and every token generated so far (the upstream's own usage when it sent one),
   * however the request ended; null when no upstream accepted it.
   */
  usage: Usage | null;
  /** Why it failed; null when it completed or the client left. */
  error: MoongateError | null;
  /** The channel that served it; null when none was reached. */
  channel: string | null;
  stream: boolean;
  /** From the start of handling to the first upstream event; null when none came. */
  ttftMs: number | null;
  durationMs: number;
}

/** A request that passed admission: it holds its worst case until it is settled. */
export interface QuotaHold {
  /** Replaces the hold with the real cost and records the request. Called exactly once. */
  settle(result: RequestResult): Promise<void>;
}

/** The quota hold; throws used_up. */
export interface Admitter {
  admit(ticket: HoldRequest): Promise<QuotaHold>;
}

/** Lets everything through and records nothing (tests and tools that need no billing). */
export const OPEN_ADMITTER: Admitter = {
  admit: () => Promise.resolve({ settle: () => Promise.resolve() }),
};

/** Every request the gateway handled, for metrics and logs (never throws back). */
export interface RequestRecord extends Partial<RequestResult> {
  traceId: string;
  /** The model the client asked for, when the body named a known one. */
  model: string | null;
  caller: AuthenticatedCaller | null;
  outcome: RequestEnding;
  error: MoongateError | null;
  durationMs: number;
}

export type RequestObserver = (record: RequestRecord) => void;

/** What the HTTP layer hands the gateway, once admitCaller let the caller in and the body was read. */
export interface ChatExchange {
  traceId: string;
  pass: Pick<CallerPass, 'caller' | 'admittedAt'>;
  body: unknown;
  /** Aborted when the request must stop: a stream's client went away, or the server is shutting down. */
  signal: CallSignal;
  /**
   * Whether the client has gone away; a non-stream request is not aborted for that (it runs
   * to its end and is billed its usage), only settled as `aborted`. Never gone when left out.
   */
  clientGone?: () => boolean;
  /**
   * Told of this request's record after the gateway's observers (the chat route's access line
   * takes the model and tokens from it): a callback per request, where a table of requests by
   * trace id would add and delete an entry of a long-lived Map per request, and V8 allocates a
   * shrunken Map's new table in the old generation (docs/benchmark.md, "Old-space garbage").
   */
  observe?: RequestObserver;
}

/** Where a stream's chunks go; the HTTP layer frames them as SSE. */
export interface ChunkSink {
  /**
   * Backpressure: a promise that resolves when the chunk may be followed by another, or
   * undefined when it may at once (the common case, which then costs no promise turn).
   */
  send(json: string): Promise<void> | undefined;
  /** Writes the terminator and ends the response. */
  done(): Promise<void>;
  readonly closed: boolean;
}

export type ChatAnswer =
  | { kind: 'json'; body: ChatCompletion }
  | { kind: 'stream'; pipe(sink: ChunkSink): Promise<void> };
