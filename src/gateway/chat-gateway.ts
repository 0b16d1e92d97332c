/**
 * The chat pipeline, independent of HTTP. Cheap checks first: admitCaller authenticates
 * and takes the rate and concurrency permit before the body is read (the route calls it
 * from its onRequest hook); handle() then validates, counts the prompt, holds the quota, routes, call the upstream, encode its events as one JSON response or as
 * chunks, and settle.
 *
 * The first event is pulled before anything is sent, so an upstream that fails before
 * producing output becomes a proper HTTP error (and the router may fail over); after
 * that, failures go in-band. Settlement happens before the last byte is sent, so a
 * response a client received complete is always billed; a request that ends early is billed
 * its prompt and what was generated once an upstream accepted it, stream or not.
 */
import { CompletionBuilder } from './completion-builder.js';
import { ChunkEncoder } from './chunk-encoder.js';
import {
  KIMI_MODEL_IDS,
  echoValue,
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
import { DEFAULT_PERSON_LIMITS, DEFAULT_REQUEST_LIMITS, type RequestLimiter, type RequestLimits } from '../limits/request-limiter.js';
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
export interface AdmissionTicket {
  traceId: string;
  caller: AuthenticatedCaller;
  /** Epoch ms when the limits counted the request; the usage row's time. */
  admittedAt?: number;
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
export interface Admission {
  /** Replaces the hold with the real cost and records the request. Called exactly once. */
  settle(result: RequestResult): Promise<void>;
}

/** The quota hold; throws used_up. */
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
  /**
   * Whether the upstream of the current attempt has accepted the request: told false when
   * an attempt starts, true once its upstream accepted it (docs/billing.md, "Early ends").
   * The last word is about the attempt that ends the request: a failed-over attempt is not
   * billed. A router that never tells counts as accepted once the first event is in.
   */
  onAcceptance?: (accepted: boolean) => void;
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

/** What the HTTP layer hands the gateway, once admitCaller let the caller in and the body was read. */
export interface ChatExchange {
  traceId: string;
  pass: Pick<CallerPass, 'caller' | 'admittedAt'>;
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
  /** Rate and concurrency per credential; left out, nothing is limited. */
  limiter?: RequestLimiter;
  /** Limits of a credential without its own; DEFAULT_REQUEST_LIMITS when left out. */
  defaultLimits?: RequestLimits;
  /** A person's limits across their credentials where the operator set none; DEFAULT_PERSON_LIMITS when left out. */
  defaultPersonLimits?: RequestLimits;
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

  /**
   * The checks that cost almost nothing, before the body is read: the credential (one
   * indexed query), then the rate and concurrency limits (in memory). A refused caller costs
   * no body read, no JSON parse and no token count.
   */
  async admitCaller(authorization: string | undefined, serviceSlug: string, traceId: string): Promise<CallerPass> {
    const startedAt = performance.now();
    let caller: AuthenticatedCaller | null = null;
    try {
      caller = await this.options.authenticate(authorization, serviceSlug);
      const admittedAt = Date.now();
      const limiter = this.options.limiter;
      if (limiter === undefined) return { caller, admittedAt, release: () => undefined };
      const defaults = this.options.defaultLimits ?? DEFAULT_REQUEST_LIMITS;
      const limits = {
        rps: caller.limits?.rps ?? defaults.rps,
        concurrency: caller.limits?.concurrency ?? defaults.concurrency,
      };
      // The person's limits are taken in the same call: a person with many credentials still
      // gets only their own share (both places, or neither).
      const personDefaults = this.options.defaultPersonLimits ?? DEFAULT_PERSON_LIMITS;
      const personLimits = {
        rps: caller.personLimits?.rps ?? personDefaults.rps,
        concurrency: caller.personLimits?.concurrency ?? personDefaults.concurrency,
      };
      const decision = await limiter.acquire(caller.credentialId, limits, { key: caller.personId, limits: personLimits });
      if (!decision.admitted) throw new MoongateError('too_many_requests', undefined, { retryAfter: decision.retryAfter });
      const { permit } = decision;
      return { caller, admittedAt, release: () => permit.release() };
    } catch (error) {
      this.observe({ traceId, model: null, caller, outcome: 'failed', error: asMoongateError(error), durationMs: performance.now() - startedAt });
      throw error;
    }
  }

  async handle(exchange: ChatExchange): Promise<ChatOutcome> {
    const startedAt = performance.now();
    const { caller, admittedAt } = exchange.pass;
    let modelId: string | null = null;
    let admitted: Admitted;
    try {
      const asked = parseChatRequest(exchange.body);
      const model = findModel(asked.model);
      if (model === undefined) {
        throw new MoongateError(
          'model_not_found',
          `The model ${echoValue(asked.model)} does not exist; available models: ${KIMI_MODEL_IDS.join(', ')}`,
        );
      }
      modelId = model.id;
      const promptTokens = countPromptTokens(asked.messages, asked.tools);
      checkContext(asked, model, promptTokens);
      // One completion cap for the hold and the upstream alike.
      const request = withCompletionCap(asked, model, promptTokens);
      const admission = await this.admitter.admit({ traceId: exchange.traceId, caller, admittedAt, model, request, promptTokens });
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
    // Once an upstream accepted the request, its prompt and every token generated are billed,
    // however it ends (docs/billing.md, "Early ends").
    let accepted = false;
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
    const generated = new GeneratedText();
    let reported: UsageEvent | undefined;
    const usageOf = (): Usage =>
      makeUsage(
        reported?.promptTokens ?? promptTokens,
        reported?.completionTokens ?? generated.tokens(),
        reported?.cachedTokens ?? 0,
      );
    /** What an early end bills: nothing before acceptance, then the prompt and what was generated. */
    const billable = (): Usage | null => (accepted ? usageOf() : null);
    const failed = async (error: unknown): Promise<never> => {
      const aborted = exchange.signal.aborted;
      await settle(aborted ? 'aborted' : 'failed', billable(), aborted ? null : asMoongateError(error));
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
        onAcceptance: (yes) => {
          accepted = yes;
        },
      });
      // An event came: whatever the router said, an upstream accepted the request.
      accepted = true;
      channel = opened.channel;
      ttftMs = performance.now() - startedAt;
      if (opened.first.done !== true) checkEvent(opened.first.value, request.n);
    } catch (error) {
      return failed(error);
    }
    const iterator = opened.events;

    const id = newCompletionId();
    const created = this.clock();

    if (!request.stream) {
      try {
        const builder = new CompletionBuilder(id, created, request.model, model.thinking, request.n);
        for (let step = opened.first; step.done !== true; step = await iterator.next()) {
          const event = step.value;
          checkEvent(event, request.n);
          generated.add(event);
          if (event.type === 'delta') builder.addDelta(event);
          else if (event.type === 'finish') builder.finish(event.index, event.reason);
          else reported = event;
        }
        const usage = usageOf();
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
        // A choice's role chunk goes out with its first event, so an upstream that sends
        // fewer choices than n (Ollama ignores n) gets the same choices as non-stream.
        // Callers check `started` first, so an event of a started choice awaits nothing extra.
        const started = new Set<number>();
        const start = (index: number): Promise<void> => {
          started.add(index);
          return sink.send(encoder.role(index));
        };
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
            await settle('aborted', billable(), null);
            return;
          }
          const usage = usageOf();
          if (!started.has(0)) await start(0);
          await sink.send(encoder.usage(usage));
          // Billed before the terminator: a client that saw [DONE] was charged.
          await settle('completed', usage, null);
          await sink.done();
        } catch (error) {
          // The client left: there is nobody to tell, but what was generated for it is billed.
          if (sink.closed || exchange.signal.aborted) {
            await settle('aborted', billable(), null);
            return;
          }
          const failure = asMoongateError(error);
          await settle('failed', billable(), failure);
          // SPEC.md: an error after the stream started is a last event, then [DONE].
          if (!started.has(0)) await start(0);
          await sink.send(JSON.stringify(errorEnvelope(failure, exchange.traceId)));
          await sink.done();
          // The client has been told; the caller logs it.
          throw error;
        } finally {
          // Whatever happened above (even a settle that threw), the hold must not outlive us.
          if (!settled) await settle(exchange.signal.aborted ? 'aborted' : 'failed', billable(), null).catch(() => undefined);
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
