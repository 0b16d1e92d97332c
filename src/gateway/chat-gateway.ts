/**
 * The chat pipeline, independent of HTTP: authenticate, validate, admit (limits and the
 * quota hold), route, call the upstream, encode its events as one JSON response or as
 * chunks, and settle.
 *
 * The first event is pulled before anything is sent, so an upstream that fails before
 * producing output becomes a proper HTTP error (and the router may fail over); after
 * that, failures go in-band. Settlement happens before the last byte is sent, so a
 * response a client received complete is always billed.
 */
import { CompletionBuilder } from './completion-builder.js';
import { ChunkEncoder } from './chunk-encoder.js';
import {
  KIMI_MODEL_IDS,
  MoongateError,
  asMoongateError,
  errorEnvelope,
  findModel,
  makeUsage,
  newCompletionId,
  parseChatRequest,
  type ChatCompletion,
  type ChatEvent,
  type ChatRequest,
  type KimiModel,
  type Usage,
  type UsageEvent,
} from '../contract/index.js';
import { countPromptTokens, countTextTokens } from '../tokens/count-tokens.js';

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

/** What admission is asked to let through. */
export interface AdmissionTicket {
  traceId: string;
  caller: AuthenticatedCaller;
  model: KimiModel;
  request: ChatRequest;
  /** The gateway's own count of the prompt. */
  promptTokens: number;
}

/** How a request that was admitted ended. */
export type RequestOutcome = 'completed' | 'failed' | 'aborted';

export interface RequestResult {
  outcome: RequestOutcome;
  /**
   * What the client received, to be billed: null when it received nothing (a request that
   * failed before its first chunk, or any failed non-stream request).
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
export interface Admission {
  /** Replaces the hold with the real cost and records the request. Called exactly once. */
  settle(result: RequestResult): Promise<void>;
}

/** Rate and concurrency limits and the quota hold; throws too_many_requests or used_up. */
export interface Admitter {
  admit(ticket: AdmissionTicket): Promise<Admission>;
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
  outcome: RequestOutcome;
  error: MoongateError | null;
  durationMs: number;
}

export type RequestObserver = (record: RequestRecord) => void;

/** What the router is asked to serve. */
export interface RouteCall {
  traceId: string;
  request: ChatRequest;
  model: KimiModel;
  promptTokens: number;
  signal: AbortSignal;
}

/** An upstream call whose first event has been pulled. */
export interface OpenedCall {
  /** The channel serving it (for the usage log and metrics). */
  channel: string;
  first: IteratorResult<ChatEvent>;
  /** The rest of the events; `return()` releases the upstream. */
  events: AsyncIterator<ChatEvent>;
}

/**
 * Picks an upstream and opens the call. Failover belongs here: until `open` resolves,
 * nothing has reached the client, so any channel may be tried.
 */
export interface ChatRouter {
  open(call: RouteCall): Promise<OpenedCall>;
}

/** What the HTTP layer hands the gateway. */
export interface ChatExchange {
  traceId: string;
  authorization: string | undefined;
  serviceSlug: string;
  body: unknown;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
}

/** Where a stream's chunks go; the HTTP layer frames them as SSE. */
export interface ChunkSink {
  /** Resolves when the chunk may be followed by another (backpressure). */
  send(json: string): Promise<void>;
  /** Writes the terminator and ends the response. */
  done(): Promise<void>;
  readonly closed: boolean;
}

export type ChatOutcome =
  | { kind: 'json'; body: ChatCompletion }
  | { kind: 'stream'; pipe(sink: ChunkSink): Promise<void> };

export interface ChatGatewayOptions {
  authenticate: Authenticate;
  router: ChatRouter;
  /** Defaults to OPEN_ADMITTER. */
  admitter?: Admitter;
  observers?: readonly RequestObserver[];
  /** Unix seconds; injectable for tests. */
  clock?: () => number;
}

/** Pieces of generated text kept as one rope before it is flattened. */
const FLATTEN_EVERY = 64;

/**
 * Counts what the reply generated, for when the upstream reports no usage. Appending to a
 * string makes a rope: about 50 bytes of V8 cons cells and string headers per piece, for
 * a piece of a few characters. A stream open for an hour at 30 tokens a second held
 * megabytes that way, so every FLATTEN_EVERY pieces the rope is flattened (`charCodeAt`
 * makes V8 flatten it) into one plain string, and only the last rope stays a rope.
 */
class GeneratedText {
  private readonly flat: string[] = [];
  private rope = '';
  private pieces = 0;
  add(event: ChatEvent): void {
    if (event.type !== 'delta') return;
    if (event.reasoning !== undefined) this.append(event.reasoning);
    if (event.content !== undefined) this.append(event.content);
    for (const call of event.toolCalls ?? []) if (call.arguments !== undefined) this.append(call.arguments);
  }
  get empty(): boolean {
    return this.flat.length === 0 && this.rope === '';
  }
  tokens(): number {
    return countTextTokens(this.flat.join('') + this.rope);
  }
  private append(piece: string): void {
    this.rope += piece;
    if (++this.pieces < FLATTEN_EVERY) return;
    this.rope.charCodeAt(0);
    this.flat.push(this.rope);
    this.rope = '';
    this.pieces = 0;
  }
}

export class ChatGateway {
  private readonly clock: () => number;
  private readonly admitter: Admitter;
  private readonly observers: readonly RequestObserver[];

  constructor(private readonly options: ChatGatewayOptions) {
    this.clock = options.clock ?? (() => Math.floor(Date.now() / 1000));
    this.admitter = options.admitter ?? OPEN_ADMITTER;
    this.observers = options.observers ?? [];
  }

  async handle(exchange: ChatExchange): Promise<ChatOutcome> {
    const startedAt = performance.now();
    let caller: AuthenticatedCaller | null = null;
    let modelId: string | null = null;
    let admitted: Admitted;
    try {
      caller = await this.options.authenticate(exchange.authorization, exchange.serviceSlug);
      const asked = parseChatRequest(exchange.body);
      const model = findModel(asked.model);
      if (model === undefined) {
        throw new MoongateError(
          'model_not_found',
          `The model ${JSON.stringify(asked.model)} does not exist; available models: ${KIMI_MODEL_IDS.join(', ')}`,
        );
      }
      modelId = model.id;
      const promptTokens = countPromptTokens(asked.messages, asked.tools);
      checkContext(asked, model, promptTokens);
      // One completion cap for the hold and the upstream alike.
      const request = withCompletionCap(asked, model, promptTokens);
      const admission = await this.admitter.admit({ traceId: exchange.traceId, caller, model, request, promptTokens });
      admitted = { caller, request, model, promptTokens, admission, startedAt };
    } catch (error) {
      // Refused before admission (or admission itself refused): nothing held, nothing billed.
      this.observe({
        traceId: exchange.traceId,
        model: modelId,
        caller,
        outcome: exchange.signal.aborted ? 'aborted' : 'failed',
        error: exchange.signal.aborted ? null : asMoongateError(error),
        durationMs: performance.now() - startedAt,
      });
      throw error;
    }
    // Admitted: from here every path settles (and is observed) exactly once, in serve().
    return this.serve(exchange, admitted);
  }

  /** The admitted part: route, answer, settle. Every path settles exactly once. */
  private async serve(exchange: ChatExchange, admitted: Admitted): Promise<ChatOutcome> {
    const { caller, request, model, promptTokens, admission, startedAt } = admitted;
    let settled = false;
    let channel: string | null = null;
    let ttftMs: number | null = null;
    const settle = async (
      outcome: RequestOutcome,
      usage: Usage | null,
      error: MoongateError | null,
    ): Promise<void> => {
      if (settled) return;
      settled = true;
      const result: RequestResult = {
        outcome,
        usage,
        error,
        channel,
        stream: request.stream,
        ttftMs,
        durationMs: performance.now() - startedAt,
      };
      try {
        await admission.settle(result);
      } finally {
        this.observe({ traceId: exchange.traceId, model: model.id, caller, ...result });
      }
    };
    const failed = async (error: unknown): Promise<never> => {
      const aborted = exchange.signal.aborted;
      await settle(aborted ? 'aborted' : 'failed', null, aborted ? null : asMoongateError(error));
      throw error;
    };

    let opened: OpenedCall;
    try {
      opened = await this.options.router.open({
        traceId: exchange.traceId,
        request,
        model,
        promptTokens,
        signal: exchange.signal,
      });
      channel = opened.channel;
      ttftMs = performance.now() - startedAt;
      if (opened.first.done !== true) checkEvent(opened.first.value, request.n);
    } catch (error) {
      return failed(error);
    }
    const iterator = opened.events;

    const id = newCompletionId();
    const created = this.clock();
    const generated = new GeneratedText();
    const usageOf = (reported: UsageEvent | undefined): Usage =>
      makeUsage(
        reported?.promptTokens ?? promptTokens,
        reported?.completionTokens ?? generated.tokens(),
        reported?.cachedTokens ?? 0,
      );

    if (!request.stream) {
      try {
        const builder = new CompletionBuilder(id, created, request.model, model.thinking, request.n);
        let reported: UsageEvent | undefined;
        for (let step = opened.first; step.done !== true; step = await iterator.next()) {
          const event = step.value;
          checkEvent(event, request.n);
          generated.add(event);
          if (event.type === 'delta') builder.addDelta(event);
          else if (event.type === 'finish') builder.finish(event.index, event.reason);
          else reported = event;
        }
        const usage = usageOf(reported);
        const body = builder.build(usage);
        await settle('completed', usage, null);
        return { kind: 'json', body };
      } catch (error) {
        await iterator.return?.().catch(() => undefined);
        return failed(error);
      }
    }

    const encoder = new ChunkEncoder(id, created, request.model);
    return {
      kind: 'stream',
      pipe: async (sink) => {
        let reported: UsageEvent | undefined;
        // A choice's role chunk goes out with its first event, so an upstream that sends
        // fewer choices than n (Ollama ignores n) gets the same choices as non-stream.
        // Callers check `started` first, so an event of a started choice awaits nothing extra.
        const started = new Set<number>();
        const start = (index: number): Promise<void> => {
          started.add(index);
          return sink.send(encoder.role(index));
        };
        // What the client has been sent so far: billed however the stream ends.
        const delivered = (): Usage | null =>
          started.size === 0 && generated.empty ? null : usageOf(reported);
        try {
          for (let step = opened.first; step.done !== true; step = await iterator.next()) {
            if (sink.closed) break;
            const event = step.value;
            checkEvent(event, request.n);
            generated.add(event);
            if (event.type === 'delta') {
              if (!started.has(event.index)) await start(event.index);
              await sink.send(encoder.delta(event));
            } else if (event.type === 'finish') {
              if (!started.has(event.index)) await start(event.index);
              await sink.send(encoder.finish(event.index, event.reason));
            } else {
              reported = event;
            }
          }
          if (sink.closed) {
            await settle('aborted', delivered(), null);
            return;
          }
          const usage = usageOf(reported);
          if (!started.has(0)) await start(0);
          await sink.send(encoder.usage(usage));
          // Billed before the terminator: a client that saw [DONE] was charged.
          await settle('completed', usage, null);
          await sink.done();
        } catch (error) {
          // The client left: there is nobody to tell, but what it was sent is billed.
          if (sink.closed || exchange.signal.aborted) {
            await settle('aborted', delivered(), null);
            return;
          }
          const failure = asMoongateError(error);
          await settle('failed', delivered(), failure);
          // SPEC.md: an error after the stream started is a last event, then [DONE].
          if (!started.has(0)) await start(0);
          await sink.send(JSON.stringify(errorEnvelope(failure, exchange.traceId)));
          await sink.done();
          // The client has been told; the caller logs it.
          throw error;
        } finally {
          // Whatever happened above (even a settle that threw), the hold must not outlive us.
          if (!settled) await settle(exchange.signal.aborted ? 'aborted' : 'failed', delivered(), null).catch(() => undefined);
          await iterator.return?.();
        }
      },
    };
  }

  private observe(record: RequestRecord): void {
    for (const observer of this.observers) {
      try {
        observer(record);
      } catch {
        // An observer's failure must never change what the client gets.
      }
    }
  }
}

interface Admitted {
  caller: AuthenticatedCaller;
  request: ChatRequest;
  model: KimiModel;
  promptTokens: number;
  admission: Admission;
  startedAt: number;
}

/** Most tool calls one choice may make; an index beyond it is an upstream fault. */
const MAX_TOOL_CALLS = 128;

/** Guards against an upstream that names choices or tool calls nobody asked for. */
function checkEvent(event: ChatEvent, n: number): void {
  if (event.type === 'usage') return;
  if (!Number.isInteger(event.index) || event.index < 0 || event.index >= n) {
    throw new MoongateError('api_error', `the upstream sent choice ${event.index}, but ${n} was asked for`);
  }
  if (event.type === 'delta' && event.toolCalls?.some((c) => !Number.isInteger(c.index) || c.index < 0 || c.index >= MAX_TOOL_CALLS)) {
    throw new MoongateError('api_error', 'the upstream sent a tool call index out of range');
  }
}

/**
 * The request as the upstream gets it: without max_tokens, the model's default cap is
 * sent (kept within the context), so the upstream can never generate more than
 * admission held for (docs/billing.md, "Worst case").
 */
function withCompletionCap(request: ChatRequest, model: KimiModel, promptTokens: number): ChatRequest {
  if (request.max_tokens !== undefined) return request;
  return { ...request, max_tokens: Math.min(model.defaultMaxTokens, model.contextTokens - promptTokens) };
}

function checkContext(request: ChatRequest, model: KimiModel, promptTokens: number): void {
  if (request.max_tokens !== undefined && request.max_tokens > model.contextTokens) {
    throw new MoongateError('bad_request', `max_tokens must be <= ${model.contextTokens} for ${model.id}`);
  }
  const needed = promptTokens + (request.max_tokens ?? 1);
  if (needed > model.contextTokens) {
    throw new MoongateError(
      'bad_request',
      `the prompt (${promptTokens} tokens) plus max_tokens (${request.max_tokens ?? 1}) exceeds ${model.id}'s context of ${model.contextTokens} tokens`,
    );
  }
}
