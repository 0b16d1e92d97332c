/**
 * The provider abstraction: a small spec every upstream kind implements.
 * A provider turns one validated request into an async iterable of ChatEvents.
 *
 * Contract:
 * - Failures are thrown as MoongateError. A failure that happens before any event
 *   (connect error, non-2xx status) must be thrown before the first yield, so the
 *   gateway can answer with a proper HTTP status.
 * - `signal` aborts the upstream call; after an abort the iterable ends or throws.
 * - Events of one choice arrive in order; a `finish` event ends each choice; at most
 *   one `usage` event, after every finish.
 */
import type { CallSignal, ChatEvent, ChatRequest, KimiModel } from '../contract/index.js';

export interface ProviderCall {
  request: ChatRequest;
  /** Facts about the public model the client asked for. */
  model: KimiModel;
  /** The model name to send upstream (an operator may map a public model to another name). */
  upstreamModel: string;
  /**
   * The gateway's figure of the prompt (SPEC.md's template arithmetic): the exact count, or
   * for a long prompt an upper bound of what an upstream can bill for it, its byte length or
   * the model's context (src/gateway/prompt-tokens.ts). Not a usage to report, and not a
   * verdict on whether the prompt fits the context.
   */
  promptTokens: number;
  signal: CallSignal;
  /**
   * Called once the upstream has accepted the request: from then on its prompt is billed,
   * whatever happens (docs/billing.md, "Early ends"). An HTTP upstream accepts with a 2xx
   * status (its response headers); the simulator as soon as it takes the request.
   */
  onAccepted?: () => void;
}

export interface Provider {
  readonly kind: string;
  chat(call: ProviderCall): AsyncIterable<ChatEvent>;
  /**
   * Optional: a non-stream call answered in one piece, every event of the reply in order once
   * all of it is in (an HTTP upstream's `stream: false` completion). Same failures, abort and
   * acceptance as `chat`; the router uses it for non-stream requests when it exists, which
   * saves an async step per event.
   */
  complete?(call: ProviderCall): Promise<ChatEvent[]>;
  close?(): Promise<void>;
}
