/**
 * The one internal event model. Every provider turns its upstream into an
 * AsyncIterable<ChatEvent>; the gateway never sees an upstream's wire format.
 * A failure is not an event: the iterable throws a MoongateError, and the gateway
 * decides whether that becomes an HTTP error (before the first byte) or an in-band one.
 */
import type { FinishReason } from './response.js';

export interface ToolCallDelta {
  /** Position of the call within the choice's tool_calls array. */
  index: number;
  /** Present on the first delta of a call. */
  id?: string;
  /** Present on the first delta of a call. */
  name?: string;
  /** A fragment of the JSON arguments; fragments concatenate. */
  arguments?: string;
}

/** A piece of one choice's reply. Text fields concatenate across deltas. */
export interface DeltaEvent {
  type: 'delta';
  index: number;
  reasoning?: string;
  content?: string;
  refusal?: string;
  toolCalls?: ToolCallDelta[];
}

export interface FinishEvent {
  type: 'finish';
  index: number;
  reason: FinishReason;
}

/**
 * Token counts the upstream reported. Missing fields are filled by the gateway's
 * own counting (SPEC.md: upstream-reported usage wins when present).
 */
export interface UsageEvent {
  type: 'usage';
  promptTokens?: number;
  completionTokens?: number;
  cachedTokens?: number;
  /** The part of promptTokens the upstream wrote to its context cache (billed at its own price). */
  cacheWriteTokens?: number;
}

export type ChatEvent = DeltaEvent | FinishEvent | UsageEvent;
