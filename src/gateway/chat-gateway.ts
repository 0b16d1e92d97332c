/**
 * The chat pipeline, independent of HTTP: authenticate, validate, route, call the
 * provider, and encode its events as one JSON response or as chunks.
 *
 * The first event is pulled before anything is sent, so an upstream that fails before
 * producing output becomes a proper HTTP error; after that, failures go in-band.
 */
import {
  CompletionBuilder,
} from './completion-builder.js';
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
import type { Provider } from '../providers/provider.js';
import { countPromptTokens, countTextTokens } from '../tokens/count-tokens.js';

export interface AuthenticatedCaller {
  credentialId: string;
  personId: string;
}

export type Authenticate = (authorization: string | undefined, serviceSlug: string) => Promise<AuthenticatedCaller>;

export interface ChatRoute {
  provider: Provider;
  upstreamModel: string;
}

export interface ChatRouter {
  route(model: KimiModel): ChatRoute;
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
  /** Unix seconds; injectable for tests. */
  clock?: () => number;
}

/** Counts what the reply generated, for when the upstream reports no usage. */
class GeneratedText {
  private text = '';
  add(event: ChatEvent): void {
    if (event.type !== 'delta') return;
    if (event.reasoning !== undefined) this.text += event.reasoning;
    if (event.content !== undefined) this.text += event.content;
    for (const call of event.toolCalls ?? []) if (call.arguments !== undefined) this.text += call.arguments;
  }
  tokens(): number {
    return countTextTokens(this.text);
  }
}

export class ChatGateway {
  private readonly clock: () => number;

  constructor(private readonly options: ChatGatewayOptions) {
    this.clock = options.clock ?? (() => Math.floor(Date.now() / 1000));
  }

  async handle(exchange: ChatExchange): Promise<ChatOutcome> {
    await this.options.authenticate(exchange.authorization, exchange.serviceSlug);
    const request = parseChatRequest(exchange.body);
    const model = findModel(request.model);
    if (model === undefined) {
      throw new MoongateError(
        'model_not_found',
        `The model ${JSON.stringify(request.model)} does not exist; available models: ${KIMI_MODEL_IDS.join(', ')}`,
      );
    }
    const promptTokens = countPromptTokens(request.messages, request.tools);
    checkContext(request, model, promptTokens);

    const route = this.options.router.route(model);
    const events = route.provider.chat({
      request,
      model,
      upstreamModel: route.upstreamModel,
      promptTokens,
      signal: exchange.signal,
    });
    const iterator = events[Symbol.asyncIterator]();
    const next = async (): Promise<IteratorResult<ChatEvent>> => {
      const step = await iterator.next();
      if (step.done !== true) checkEvent(step.value, request.n);
      return step;
    };
    // Pull the first event before answering: a failure here is still an HTTP error.
    const first = await next();

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
      const builder = new CompletionBuilder(id, created, request.model, model.thinking, request.n);
      let reported: UsageEvent | undefined;
      for (let step = first; step.done !== true; step = await next()) {
        const event = step.value;
        generated.add(event);
        if (event.type === 'delta') builder.addDelta(event);
        else if (event.type === 'finish') builder.finish(event.index, event.reason);
        else reported = event;
      }
      return { kind: 'json', body: builder.build(usageOf(reported)) };
    }

    const encoder = new ChunkEncoder(id, created, request.model);
    return {
      kind: 'stream',
      pipe: async (sink) => {
        let reported: UsageEvent | undefined;
        // A choice's role chunk goes out with its first event, so an upstream that sends
        // fewer choices than n (Ollama ignores n) gets the same choices as non-stream.
        const started = new Set<number>();
        const start = async (index: number): Promise<void> => {
          if (started.has(index)) return;
          started.add(index);
          await sink.send(encoder.role(index));
        };
        try {
          for (let step = first; step.done !== true; step = await next()) {
            if (sink.closed) break;
            const event = step.value;
            generated.add(event);
            if (event.type === 'delta') {
              await start(event.index);
              await sink.send(encoder.delta(event));
            } else if (event.type === 'finish') {
              await start(event.index);
              await sink.send(encoder.finish(event.index, event.reason));
            } else {
              reported = event;
            }
          }
          if (sink.closed) return;
          await start(0);
          await sink.send(encoder.usage(usageOf(reported)));
          await sink.done();
        } catch (error) {
          // The client left: there is nobody to tell.
          if (sink.closed || exchange.signal.aborted) return;
          // SPEC.md: an error after the stream started is a last event, then [DONE].
          await start(0);
          await sink.send(JSON.stringify(errorEnvelope(asMoongateError(error), exchange.traceId)));
          await sink.done();
          // The client has been told; the caller logs it.
          throw error;
        } finally {
          await iterator.return?.();
        }
      },
    };
  }
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
