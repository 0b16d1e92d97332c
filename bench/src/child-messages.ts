/** What the bench's child processes and the harness say to each other over IPC. */

/** The bearer token the plain gateway (plain-gateway.ts) admits, sent by the harness. */
export const PLAIN_GATEWAY_TOKEN = 'plain-gateway-bench-token';

/** Sent by a server child (fake upstream, bare proxy) once it listens. */
export interface ReadyMessage {
  type: 'ready';
  port: number;
}

/** Latency figures in milliseconds, from one load run. */
export interface LoadResult {
  type: 'load-result';
  /** The job this answers (the built-in loader runs several). */
  id?: number;
  requests: number;
  /** Transport errors and non-2xx answers. */
  errors: number;
  durationMs: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Time to the first body byte (streams), when measured. */
  ttfbP50Ms: number | null;
  ttfbP99Ms: number | null;
}

/** Asks the built-in loader to run one job (settings: NodeLoadSettings). */
export interface LoadJob {
  type: 'load';
  id: number;
  settings: unknown;
}

/** Progress of the open-streams holder. */
export interface HeldMessage {
  type: 'held';
  held: number;
  failed: number;
}

export type ChildMessage = ReadyMessage | LoadResult | HeldMessage;

/** How the fake upstream answers; set through POST /__bench/mode. */
export interface UpstreamMode {
  /** Wait before the response headers. */
  delayMs: number;
  /** Between two stream chunks; 0 writes each on the next turn of the event loop. */
  chunkIntervalMs: number;
  /** Content chunks per stream. */
  chunks: number;
}

export function isChildMessage(value: unknown): value is ChildMessage {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}
