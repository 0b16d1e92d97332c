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
 * its prompt and what was generated once an upstream accepted it, stream or not. (A
 * non-stream request is not ended by its client leaving: the HTTP layer lets it run, and it
 * is billed in full; docs/billing.md, "Early ends".)
 */
import { CompletionBuilder } from './completion-builder.js';
import { ChunkEncoder } from './chunk-encoder.js';
import {
  BUILT_IN_LOOKUP,
  type CallSignal,
  checkAgainstModel,
  echoValue,
  MoongateError,
  asMoongateError,
  errorEnvelope,
  isServed,
  makeUsage,
  newCompletionId,
  parseChatRequest,
  type ChatEvent,
  type ChatRequest,
  type KimiModel,
  type ModelLookup,
  type Usage,
  type UsageEvent,
} from '../contract/index.js';
import { DEFAULT_PERSON_LIMITS, DEFAULT_REQUEST_LIMITS, type RequestLimiter, type RequestLimits } from '../limits/request-limiter.js';
import { countTextTokens } from '../tokens/count-tokens.js';
import { PromptFigure } from './prompt-tokens.js';
import {
  OPEN_ADMITTER,
  type Admitter,
  type Authenticate,
  type AuthenticatedCaller,
  type CallerPass,
  type CappedChatRequest,
  type ChatAnswer,
  type ChatExchange,
  type QuotaHold,
  type RequestEnding,
  type RequestObserver,
  type RequestRecord,
  type RequestResult,
} from './pipeline.js';

/** What the router is asked to serve. */
export interface RouteCall {
  traceId: string;
  request: ChatRequest;
  model: KimiModel;
  /** The prompt's figure for the hold: its exact count, or for a long prompt an upper bound of what an upstream can bill for it (prompt-tokens.ts). */
  promptTokens: number;
  signal: CallSignal;
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
  /**
   * Every event of the reply, when it came in one piece (a non-stream call, Provider.complete):
   * `first` is its first and `events` hands out the rest; a reader may loop over this instead.
   */
  whole?: readonly ChatEvent[];
}

/**
 * Picks an upstream and opens the call. Failover belongs here: until `open` resolves,
 * nothing has reached the client, so any channel may be tried.
 */
export interface ChatRouter {
  open(call: RouteCall): Promise<OpenedCall>;
}

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
  /** The model catalogue (src/catalogue); the built-in rows when left out (tests). */
  models?: ModelLookup;
}

/**
 * The model a request names, as the catalogue says (docs/models.md): an active or hidden
 * row is served; a retired one is served by its replacement (the answer keeps the name
 * asked for; billing and the usage log use the replacement's) or answered with its message
 * as a 404 model_not_found; an 'off' row or an unknown id is the unknown-model 404, listing
 * the active models. Before that answer the catalogue is refreshed once, so a model the CLI
 * has just added is found.
 */
export function resolveModel(lookup: ModelLookup, id: string): KimiModel | Promise<KimiModel> {
  const model = lookup.find(id);
  // The common case, a served row in memory, is answered without a promise.
  if (model !== undefined && isServed(model)) return model;
  return resolveModelSlowly(lookup, id, model);
}

async function resolveModelSlowly(lookup: ModelLookup, id: string, found: KimiModel | undefined): Promise<KimiModel> {
  let model = found;
  if ((model === undefined || model.state === 'off') && lookup.refresh !== undefined) {
    await lookup.refresh();
    model = lookup.find(id);
  }
  if (model !== undefined && isServed(model)) return model;
  if (model?.state === 'retired') {
    const replacement = model.replacement === undefined ? undefined : lookup.find(model.replacement);
    if (replacement !== undefined && isServed(replacement)) return replacement;
    throw new MoongateError('model_not_found', model.retiredMessage ?? `The model ${echoValue(id)} has been retired`);
  }
  throw new MoongateError(
    'model_not_found',
    `The model ${echoValue(id)} does not exist; available models: ${lookup
      .listed()
      .map((m) => m.id)
      .join(', ')}`,
  );
}

/** A credential's or person's limits: its own where set, the defaults for the rest (the defaults themselves when none is set). */
function withDefaults(own: { rps: number | null; concurrency: number | null } | null | undefined, defaults: RequestLimits): RequestLimits {
  if (own === null || own === undefined || (own.rps === null && own.concurrency === null)) return defaults;
  return { rps: own.rps ?? defaults.rps, concurrency: own.concurrency ?? defaults.concurrency };
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
  async admitCaller(authorization: string | undefined, serviceSlug: string, traceId: string, observe?: RequestObserver): Promise<CallerPass> {
    const startedAt = performance.now();
    let caller: AuthenticatedCaller | null = null;
    try {
      caller = await this.options.authenticate(authorization, serviceSlug);
      const admittedAt = Date.now();
      const limiter = this.options.limiter;
      if (limiter === undefined) return { caller, admittedAt, release: () => undefined };
      const limits = withDefaults(caller.limits, this.options.defaultLimits ?? DEFAULT_REQUEST_LIMITS);
      // The person's limits are taken in the same call: a person with many credentials still
      // gets only their own share (both places, or neither).
      const personLimits = withDefaults(caller.personLimits, this.options.defaultPersonLimits ?? DEFAULT_PERSON_LIMITS);
      const decision = await limiter.acquire(caller.credentialId, limits, { key: caller.personId, limits: personLimits });
      if (!decision.admitted) throw new MoongateError('too_many_requests', undefined, { retryAfter: decision.retryAfter });
      const { permit } = decision;
      return { caller, admittedAt, release: () => permit.release() };
    } catch (error) {
      observeAll(this.observers, { traceId, model: null, caller, outcome: 'failed', error: asMoongateError(error), durationMs: performance.now() - startedAt }, observe);
      throw error;
    }
  }

  async handle(exchange: ChatExchange): Promise<ChatAnswer> {
    const startedAt = performance.now();
    const { caller, admittedAt } = exchange.pass;
    let modelId: string | null = null;
    let admitted: ServedRequest;
    try {
      const parsed = parseChatRequest(exchange.body);
      const found = resolveModel(this.options.models ?? BUILT_IN_LOOKUP, parsed.model);
      const model = found instanceof Promise ? await found : found;
      modelId = model.id;
      // What the model refuses is refused before anything is counted or held (docs/requests.md).
      const { request: asked, mediaTokens } = checkAgainstModel(parsed, model);
      // The exact count, or for a long prompt an upper bound of it, never above the context (prompt-tokens.ts).
      let prompt = PromptFigure.of(asked, model);
      // Images and videos are held at their worst case; the upstream's usage is what is billed.
      const hold = (figure: PromptFigure): { request: CappedChatRequest; admission: Promise<QuotaHold> } => {
        figure.checkContext();
        // One completion cap for the hold and the upstream alike.
        const request = withCompletionCap(asked, figure);
        const promptTokens = figure.tokens + mediaTokens;
        return { request, admission: this.admitter.admit({ traceId: exchange.traceId, caller, admittedAt, model, request, promptTokens }) };
      };
      let held = hold(prompt);
      let admission: QuotaHold;
      try {
        admission = await held.admission;
      } catch (error) {
        // The bound's larger hold did not fit the balance: the exact count may.
        if (prompt.isExact || !(error instanceof MoongateError) || error.code !== 'used_up') throw error;
        prompt = prompt.exact();
        held = hold(prompt);
        admission = await held.admission;
      }
      admitted = { caller, request: held.request, model, prompt, admission, startedAt };
    } catch (error) {
      // Refused before admission (or admission itself refused): nothing held, nothing billed.
      observeAll(this.observers, {
        traceId: exchange.traceId,
        model: modelId,
        caller,
        outcome: exchange.signal.aborted ? 'aborted' : 'failed',
        error: exchange.signal.aborted ? null : asMoongateError(error),
        durationMs: performance.now() - startedAt,
      }, exchange.observe);
      throw error;
    }
    // ServedRequest: from here every path settles (and is observed) exactly once, in serve().
    return this.serve(exchange, admitted);
  }

  /** The admitted part: route, then answer as JSON or as a stream. Every path settles exactly once. */
  private async serve(exchange: ChatExchange, admitted: ServedRequest): Promise<ChatAnswer> {
    const { request, model, prompt, startedAt } = admitted;
    // Once an upstream accepted the request, its prompt and every token generated are billed,
    // however it ends (docs/billing.md, "Early ends").
    const tally = new RequestTally(admitted, exchange, this.observers);
    let opened: OpenedCall;
    try {
      opened = await this.openRoute(prompt, {
        traceId: exchange.traceId,
        request,
        model,
        promptTokens: prompt.tokens,
        signal: exchange.signal,
        onAcceptance: (yes) => {
          tally.accepted = yes;
        },
      });
      // An event came: whatever the router said, an upstream accepted the request.
      tally.accepted = true;
      tally.channel = opened.channel;
      tally.ttftMs = performance.now() - startedAt;
      if (opened.first.done !== true) checkEvent(opened.first.value, request.n);
    } catch (error) {
      return tally.failed(error);
    }

    const id = newCompletionId();
    const created = this.clock();
    if (!request.stream) {
      return answerJson(opened, tally, id, created, exchange.clientGone);
    }
    return answerStream(opened, tally, new ChunkEncoder(id, created, request.model), exchange);
  }

  /**
   * Opens the route. A long prompt that was not counted (a 'context' figure) went with the
   * model's default cap, which an upstream refuses (400, before accepting anything) when the
   * prompt leaves less than that in its context. Only then is the prompt counted, and sent
   * once more with the cap the context leaves, which the hold covers (docs/billing.md,
   * "Counting the prompt"); a prompt that does not fit at all gets the context error.
   */
  private async openRoute(prompt: PromptFigure, call: RouteCall & { request: CappedChatRequest }): Promise<OpenedCall> {
    try {
      return await this.options.router.open(call);
    } catch (error) {
      if (!(error instanceof MoongateError) || error.code !== 'bad_request' || call.signal.aborted) throw error;
      const cap = prompt.capAfterRefusal(call.request.max_tokens);
      if (cap === undefined) throw error;
      return this.options.router.open({ ...call, request: { ...call.request, max_tokens: cap } });
    }
  }
}

/** The gateway's observers, then the request's own (`ChatExchange.observe`, the caller's `observe`). */
function observeAll(observers: readonly RequestObserver[], record: RequestRecord, own?: RequestObserver): void {
  for (const observer of observers) tell(observer, record);
  if (own !== undefined) tell(own, record);
}

function tell(observer: RequestObserver, record: RequestRecord): void {
  try {
    observer(record);
  } catch {
    // An observer's failure must never change what the client gets.
  }
}

interface ServedRequest {
  caller: AuthenticatedCaller;
  request: CappedChatRequest;
  model: KimiModel;
  prompt: PromptFigure;
  admission: QuotaHold;
  startedAt: number;
}

/**
 * One admitted request's bookkeeping, shared by the JSON and the stream answer: what was
 * generated, and its one settlement. A class, not an object literal of closures: one object a
 * request instead of one closure per method and the scope they share (issue 20).
 */
class RequestTally {
  settled = false;
  /** Whether the upstream of the attempt that ends the request has accepted it. */
  accepted = false;
  /** The channel serving it, once one answered. */
  channel: string | null = null;
  ttftMs: number | null = null;
  #generated: GeneratedText | undefined;
  #reported: UsageEvent | undefined;

  constructor(
    readonly admitted: ServedRequest,
    private readonly exchange: ChatExchange,
    private readonly observers: readonly RequestObserver[],
  ) {}

  /** Settles (and observes) the request; later calls do nothing. */
  async settle(ending: RequestEnding, usage: Usage | null, error: MoongateError | null): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    const { admitted } = this;
    const result: RequestResult = {
      outcome: ending,
      usage,
      error,
      channel: this.channel,
      stream: admitted.request.stream,
      ttftMs: this.ttftMs,
      durationMs: performance.now() - admitted.startedAt,
    };
    try {
      await admitted.admission.settle(result);
    } finally {
      observeAll(this.observers, { traceId: this.exchange.traceId, model: admitted.model.id, caller: admitted.caller, ...result }, this.exchange.observe);
    }
  }

  /** Checks an upstream event and counts what it generated (or the usage it reported). */
  count(event: ChatEvent): void {
    checkEvent(event, this.admitted.request.n);
    if (event.type === 'usage') this.#reported = event;
    else if (event.type === 'delta') (this.#generated ??= new GeneratedText()).add(event);
  }

  /** The upstream's usage when it reported one, else the gateway's own count. */
  usage(): Usage {
    const reported = this.#reported;
    return makeUsage(
      reported?.promptTokens ?? this.admitted.prompt.count(),
      reported?.completionTokens ?? this.#generated?.tokens() ?? 0,
      reported?.cachedTokens ?? 0,
      reported?.cacheWriteTokens ?? 0,
    );
  }

  /** What an early end bills: nothing before acceptance, then the prompt and what was generated. */
  billable(): Usage | null {
    return this.accepted ? this.usage() : null;
  }

  /** Settles a request that failed (or whose client left) and rethrows. */
  async failed(error: unknown): Promise<never> {
    const aborted = this.exchange.signal.aborted;
    await this.settle(aborted ? 'aborted' : 'failed', this.billable(), aborted ? null : asMoongateError(error));
    throw error;
  }
}

/** The non-stream answer: every event aggregated into one completion, settled before it is returned. */
async function answerJson(opened: OpenedCall, tally: RequestTally, id: string, created: number, clientGone: (() => boolean) | undefined): Promise<ChatAnswer> {
  const iterator = opened.events;
  try {
    const { request, model } = tally.admitted;
    const builder = new CompletionBuilder(id, created, request.model, model.thinking, request.n);
    const add = (event: ChatEvent): void => {
      tally.count(event);
      if (event.type === 'delta') builder.addDelta(event);
      else if (event.type === 'finish') builder.finish(event.index, event.reason);
    };
    if (opened.whole !== undefined) {
      // The reply came in one piece: no async step per event.
      for (const event of opened.whole) add(event);
    } else {
      for (let step = opened.first; step.done !== true; step = await iterator.next()) add(step.value);
    }
    const usage = tally.usage();
    const body = builder.build(usage);
    // A client that left is billed the whole reply all the same: the upstream generated it.
    await tally.settle(clientGone?.() === true ? 'aborted' : 'completed', usage, null);
    return { kind: 'json', body };
  } catch (error) {
    await iterator.return?.().catch(() => undefined);
    return tally.failed(error);
  }
}

/** The stream answer: chunks piped to the HTTP layer's sink, settled before the terminator. */
function answerStream(opened: OpenedCall, tally: RequestTally, encoder: ChunkEncoder, exchange: ChatExchange): ChatAnswer {
  const iterator = opened.events;
  return {
    kind: 'stream',
    pipe: async (sink) => {
      // A choice's role chunk goes out with its first event, so an upstream that sends
      // fewer choices than n (Ollama ignores n) gets the same choices as non-stream.
      // Callers check `started` first, so an event of a started choice awaits nothing extra.
      const started = new Set<number>();
      const start = (index: number): Promise<void> | undefined => {
        started.add(index);
        return sink.send(encoder.role(index));
      };
      try {
        for (let step = opened.first; step.done !== true; step = await iterator.next()) {
          if (sink.closed) break;
          const event = step.value;
          tally.count(event);
          if (event.type === 'delta') {
            if (!started.has(event.index)) await start(event.index);
            // A send the socket took returns nothing to wait for: no promise turn per chunk.
            const wait = sink.send(encoder.delta(event));
            if (wait !== undefined) await wait;
          } else if (event.type === 'finish') {
            if (!started.has(event.index)) await start(event.index);
            const wait = sink.send(encoder.finish(event.index, event.reason));
            if (wait !== undefined) await wait;
          }
        }
        if (sink.closed) {
          await tally.settle('aborted', tally.billable(), null);
          return;
        }
        const usage = tally.usage();
        if (!started.has(0)) await start(0);
        await sink.send(encoder.usage(usage));
        // Billed before the terminator: a client that saw [DONE] was charged.
        await tally.settle('completed', usage, null);
        await sink.done();
      } catch (error) {
        // The client left: there is nobody to tell, but what was generated for it is billed.
        if (sink.closed || exchange.signal.aborted) {
          await tally.settle('aborted', tally.billable(), null);
          return;
        }
        const failure = asMoongateError(error);
        await tally.settle('failed', tally.billable(), failure);
        // SPEC.md: an error after the stream started is a last event, then [DONE].
        if (!started.has(0)) await start(0);
        await sink.send(JSON.stringify(errorEnvelope(failure, exchange.traceId)));
        await sink.done();
        // The client has been told; the caller logs it.
        throw error;
      } finally {
        // Whatever happened above (even a settle that threw), the hold must not outlive us.
        if (!tally.settled) await tally.settle(exchange.signal.aborted ? 'aborted' : 'failed', tally.billable(), null).catch(() => undefined);
        await iterator.return?.();
      }
    },
  };
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
function withCompletionCap(request: ChatRequest, prompt: PromptFigure): CappedChatRequest {
  return { ...request, max_tokens: prompt.completionCap() };
}
