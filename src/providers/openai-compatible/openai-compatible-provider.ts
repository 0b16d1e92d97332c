/**
 * A Provider for any OpenAI-compatible Chat Completions server: vLLM, SGLang, Ollama,
 * llama.cpp's server, another moongate. Upstreams with quirks (Moonshot) subclass it and
 * override the hooks (`buildBody`, `buildMessage`, `createChunkReader`, `mapError`) instead
 * of copying the plumbing, as the Vercel AI SDK's openai-compatible base does.
 *
 * A request goes upstream the way its client asked: a stream as a stream with usage
 * (`stream_options.include_usage`), a non-stream one as one `stream: false` call whose
 * `chat.completion` (usage included) is read whole and handed out as the events of one
 * chunk, each choice's `message` as its delta. The client of a non-stream call receives
 * nothing until the whole reply exists, so nothing is lost by not streaming it: the HTTP
 * layer lets a non-stream call run to its end when its client leaves, and the reply is billed
 * from the upstream's own usage (docs/billing.md, "Early ends"). An upstream that answers a
 * non-stream call with a stream anyway is read as a stream.
 */
import type { Readable } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
import { MoongateError, completionCapField } from '../../contract/index.js';
import type { ChatEvent, ChatMessage } from '../../contract/index.js';
import { SSE_DONE_DATA, SseDecoder, type SseEvent } from '../../sse/index.js';
import type { Provider, ProviderCall } from '../provider.js';
import { ChunkReader, isJsonObject } from './chunk-reader.js';
import { upstreamBody } from './upstream-body.js';
import { openStream, type StreamedResponse } from './streamed-response.js';
import {
  mapTransportError,
  mapUpstreamStatus,
  parseUpstreamError,
  ERROR_BODY_LIMIT_BYTES,
  type UpstreamHeaders,
} from './upstream-errors.js';

export interface OpenAICompatibleProviderOptions {
  /** The API root, e.g. `http://vllm:8000/v1`; requests go to `${baseUrl}/chat/completions`. */
  baseUrl: string;
  /** Sent as `authorization: Bearer <apiKey>` when set. */
  apiKey?: string;
  /** An undici dispatcher to send requests through; the caller owns it (close() leaves it open). */
  dispatcher?: Dispatcher;
  /** Time allowed for the response headers (undici's default, 300 s, when not set). */
  headersTimeoutMs?: number;
  /** Time allowed between two pieces of the body (undici's default, 300 s, when not set). */
  bodyTimeoutMs?: number;
  /** Time allowed to open a connection (10 s when not set); applies to the provider's own agent. */
  connectTimeoutMs?: number;
  /**
   * Time allowed for the headers of a non-stream request (`headersTimeoutMs` when not set).
   * An upstream that ignores `stream` answers a non-stream request only once the whole reply
   * is generated, so the channel's total time is the fitting limit for it.
   */
  replyTimeoutMs?: number;
  /**
   * Request fields moongate does not know that this upstream gets as the client sent them
   * (a channel's `passthrough`, e.g. vLLM's `chat_template_kwargs`); `prompt_cache_options`
   * may be named too. Any other unknown field is dropped (docs/requests.md).
   */
  passthrough?: readonly string[];
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** The largest non-stream body read (a reply at the longest context is a few MiB). */
export const COMPLETION_BODY_LIMIT_BYTES = 32 * 1024 * 1024;
/** Idle upstream connections are kept this long for the next request. */
const KEEP_ALIVE_TIMEOUT_MS = 30_000;

export class OpenAICompatibleProvider implements Provider {
  readonly kind: string = 'openai-compatible';

  private readonly origin: string;
  private readonly path: string;
  protected readonly apiKey: string | undefined;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly headersTimeoutMs: number | undefined;
  private readonly bodyTimeoutMs: number | undefined;
  private readonly replyTimeoutMs: number | undefined;
  private readonly passthrough: readonly string[];

  constructor(options: OpenAICompatibleProviderOptions) {
    // Parsed once: undici's request(url) parses the URL string on every call.
    const url = new URL(`${options.baseUrl.replace(/\/+$/, '')}/chat/completions`);
    this.origin = url.origin;
    this.path = `${url.pathname}${url.search}`;
    this.apiKey = options.apiKey === '' ? undefined : options.apiKey;
    this.headersTimeoutMs = options.headersTimeoutMs;
    this.bodyTimeoutMs = options.bodyTimeoutMs;
    this.replyTimeoutMs = options.replyTimeoutMs ?? options.headersTimeoutMs;
    this.passthrough = options.passthrough ?? [];
    if (options.dispatcher !== undefined) {
      this.dispatcher = options.dispatcher;
      this.ownsDispatcher = false;
    } else {
      this.dispatcher = new Agent({
        keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
        connect: { timeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS },
        // Headers and body timeouts go on each request (below), which also covers a dispatcher given to us.
      });
      this.ownsDispatcher = true;
    }
  }

  /**
   * Streams one completion. Errors before the first event (connect, non-2xx) are thrown on
   * the first `next()`, so the gateway can still answer with an HTTP status. The caller's
   * abort is rethrown as is; every other failure is a MoongateError. The upstream body is
   * always consumed or destroyed, whichever way the iteration ends.
   */
  chat(call: ProviderCall): AsyncGenerator<ChatEvent, void, undefined> {
    return this.chatOver(call, undefined);
  }

  /**
   * `chat`, on a response `send` already returned (or sending it first): one generator, no
   * delegation per event. A stream longer than `maxBytes` fails as a completion too large.
   */
  private async *chatOver(call: ProviderCall, sent: StreamedResponse | undefined, maxBytes = Infinity): AsyncGenerator<ChatEvent, void, undefined> {
    const { signal } = call;
    const response = sent ?? (await this.send(call));
    let sawDoneOfCall = false;
    try {
      if (!isEventStream(response.headers)) {
        const events = await this.readCompletion(call, response);
        // The body was read to its end: the connection goes back to the pool.
        sawDoneOfCall = true;
        for (const chatEvent of events) {
          signal.throwIfAborted();
          yield chatEvent;
        }
        return;
      }

      // The SSE decoder is driven inline (no generator of its own): every layer of async
      // iteration is a promise and a microtask per event.
      const reply = new SseReply(this.createChunkReader(call));
      let size = 0;
      try {
        for (let bytes = await response.read(); bytes !== null; bytes = await response.read()) {
          size += bytes.byteLength;
          if (size > maxBytes) throw completionTooLarge();
          // One network chunk may hold many events; none is handed out after the caller left.
          for (const chatEvent of reply.read(bytes)) {
            signal.throwIfAborted();
            yield chatEvent;
          }
          // The reply ends at [DONE]: an upstream that keeps the body open after it must not
          // hold the client (the finally below lets the rest of the body go).
          if (reply.sawDone) break;
        }
        for (const chatEvent of reply.readEnd()) {
          signal.throwIfAborted();
          yield chatEvent;
        }
      } catch (error) {
        if (signal.aborted) throw error;
        // After [DONE] the reply is complete; a connection that then fails costs nothing.
        if (!reply.sawDone) throw mapTransportError(error, 'body');
      }
      sawDoneOfCall = reply.sawDone;
      yield* reply.end();
    } finally {
      // Ends the upstream request when we stop early (error, abort, the consumer's return()).
      // After [DONE] the rest of the body (usually just the chunked terminator, still in
      // flight) is read off for a moment instead, so the connection goes back to the pool:
      // cutting it would cost a new TCP connection per request.
      if (sawDoneOfCall && !signal.aborted) response.drain(AFTER_DONE_GRACE_MS);
      else response.cancel();
    }
  }

  /**
   * A non-stream call answered in one piece: every event of the reply, once the whole
   * `chat.completion` is in, with no async step per event (streamed-response.ts reads it
   * with no Node stream in between, issue 20). Failures and the caller's abort as in `chat`;
   * an upstream that answers with a stream anyway is read as one, to its [DONE], at most
   * COMPLETION_BODY_LIMIT_BYTES of it.
   */
  async complete(call: ProviderCall): Promise<ChatEvent[]> {
    const response = await this.send(call);
    if (!isEventStream(response.headers)) return this.readCompletion(call, response);
    const events: ChatEvent[] = [];
    for await (const event of this.chatOver(call, response, COMPLETION_BODY_LIMIT_BYTES)) events.push(event);
    return events;
  }

  /**
   * Sends the request and checks the status: a non-2xx is thrown as a MoongateError (its
   * body read and mapped), a 2xx tells `onAccepted` and is returned with its body unread.
   */
  private async send(call: ProviderCall): Promise<StreamedResponse> {
    const { signal } = call;
    let response: StreamedResponse;
    try {
      response = await openStream(this.dispatcher, this.requestOptions(call), signal);
    } catch (error) {
      if (signal.aborted) throw error;
      throw mapTransportError(error, 'request');
    }
    if (response.statusCode >= 200 && response.statusCode <= 299) {
      // A 2xx: the upstream accepted the request and bills its prompt from here.
      call.onAccepted?.();
      return response;
    }
    let text = '';
    try {
      text = await response.text(ERROR_BODY_LIMIT_BYTES);
    } catch (error) {
      if (signal.aborted) throw error;
      // The status alone still says what went wrong.
    }
    const mapped = this.mapError(response.statusCode, text, response.headers);
    throw new MoongateError(mapped.code, mapped.message, {
      upstreamStatus: response.statusCode,
      ...(mapped.retryAfter === undefined ? {} : { retryAfter: mapped.retryAfter }),
    });
  }

  /** The upstream request of a call: where, its headers, its body and its timeouts. */
  private requestOptions(call: ProviderCall): Dispatcher.DispatchOptions {
    const headersTimeout = call.request.stream ? this.headersTimeoutMs : this.replyTimeoutMs;
    const headers = this.buildHeaders(call);
    let body: Dispatcher.DispatchOptions['body'];
    const built = upstreamBody(this.buildBody(call), call.request.source);
    if (typeof built === 'string' || Buffer.isBuffer(built)) body = built;
    else {
      headers['content-length'] = String(built.length);
      // An array is an Iterable, which dispatch takes (undici's Dispatcher.md) though its types do not say so.
      body = built.pieces as unknown as Readable;
    }
    return {
      origin: this.origin,
      path: this.path,
      method: 'POST',
      headers,
      body,
      ...(headersTimeout === undefined ? {} : { headersTimeout }),
      ...(this.bodyTimeoutMs === undefined ? {} : { bodyTimeout: this.bodyTimeoutMs }),
    };
  }

  /** One JSON completion, read whole, as the events of the one chunk that would carry it all. */
  private async readCompletion(call: ProviderCall, response: StreamedResponse): Promise<ChatEvent[]> {
    let text: string;
    try {
      text = await response.text(COMPLETION_BODY_LIMIT_BYTES, completionTooLarge);
    } catch (error) {
      if (call.signal.aborted) throw error;
      throw mapTransportError(error, 'body');
    }
    let completion: unknown;
    try {
      completion = JSON.parse(text);
    } catch {
      throw new MoongateError('api_error', 'the upstream sent a malformed completion');
    }
    const reader = this.createChunkReader(call);
    const events = reader.read(completionAsChunk(completion));
    for (const event of reader.end(true)) events.push(event);
    return events;
  }

  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  protected buildHeaders(call: ProviderCall): Record<string, string> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: call.request.stream ? 'text/event-stream' : 'application/json',
    };
    if (this.apiKey !== undefined) headers.authorization = `Bearer ${this.apiKey}`;
    return headers;
  }

  /**
   * The JSON body sent upstream, in a stable field order. Optional fields appear only when
   * the request set them; `n` only when it is not 1 (the default everywhere), because some
   * servers (llama.cpp, Ollama) do not know the field. A stream asks for usage in its last
   * chunk; a non-stream completion carries it anyway (see the top of this file). The completion cap goes under the name the
   * model honours (completionCapField); `thinking` and `reasoning_effort` as the client sent
   * them, already checked against the model (contract/model-rules.ts).
   */
  protected buildBody(call: ProviderCall): Record<string, unknown> {
    const r = call.request;
    const body: Record<string, unknown> = {
      model: call.upstreamModel,
      messages: r.messages.map((message) => this.buildMessage(message)),
      stream: r.stream,
    };
    if (r.stream) body.stream_options = { include_usage: true };
    if (r.n !== 1) body.n = r.n;
    if (r.max_tokens !== undefined) body[completionCapField(call.model)] = r.max_tokens;
    if (r.temperature !== undefined) body.temperature = r.temperature;
    if (r.top_p !== undefined) body.top_p = r.top_p;
    if (r.stop !== undefined) body.stop = r.stop;
    if (r.presence_penalty !== undefined) body.presence_penalty = r.presence_penalty;
    if (r.frequency_penalty !== undefined) body.frequency_penalty = r.frequency_penalty;
    if (r.response_format === 'json_object') body.response_format = { type: 'json_object' };
    if (r.tools !== undefined) body.tools = r.tools;
    if (r.tool_choice !== undefined) body.tool_choice = r.tool_choice;
    if (r.user !== undefined) body.user = r.user;
    if (r.seed !== undefined) body.seed = r.seed;
    if (r.thinking !== undefined) body.thinking = r.thinking;
    if (r.reasoning_effort !== undefined) body.reasoning_effort = r.reasoning_effort;
    for (const field of this.passthrough) {
      const value = field === 'prompt_cache_options' ? r.prompt_cache_options : r.extra?.[field];
      if (value !== undefined) body[field] = value;
    }
    return body;
  }

  /**
   * One message as the client sent it; optional fields only when present. Content with an
   * image or video goes as its parts, in order; `reasoning_content` and tool-call ids exactly
   * as they came (kimi-k2.6 refuses a tool-call turn without its reasoning; kimi-k3's
   * `name:index` ids repeat across turns and must not be rewritten).
   */
  protected buildMessage(message: ChatMessage): Record<string, unknown> {
    const out: Record<string, unknown> = { role: message.role, content: message.parts ?? message.content };
    if (message.name !== undefined) out.name = message.name;
    if (message.tool_calls !== undefined) out.tool_calls = message.tool_calls;
    if (message.tool_call_id !== undefined) out.tool_call_id = message.tool_call_id;
    if (message.reasoning_content !== undefined) out.reasoning_content = message.reasoning_content;
    if (message.partial !== undefined) out.partial = message.partial;
    return out;
  }

  /** A fresh reader for each stream; subclasses return their own reader with its hooks. */
  protected createChunkReader(_call: ProviderCall): ChunkReader {
    return new ChunkReader();
  }

  /** Maps a non-2xx answer; `body` is at most the first 64 KiB of the upstream's error body. */
  protected mapError(status: number, body: string, headers: UpstreamHeaders): MoongateError {
    return mapUpstreamStatus(status, parseUpstreamError(body), headers, this.secrets());
  }

  /** Strings that must never reach a client, whatever an upstream echoes back. */
  protected secrets(): string[] {
    return this.apiKey === undefined ? [] : [this.apiKey];
  }
}

/** How long an upstream may take to end its body after [DONE] before the connection is cut. */
const AFTER_DONE_GRACE_MS = 1_000;

function isEventStream(headers: UpstreamHeaders): boolean {
  const type = headers['content-type'];
  const value = Array.isArray(type) ? type[0] : type;
  return value !== undefined && value.toLowerCase().startsWith('text/event-stream');
}

/**
 * An SSE reply read as it arrives: its bytes decoded into events, up to [DONE], and each
 * event read into ChatEvents by the provider's chunk reader. Events after [DONE] are not read.
 */
class SseReply {
  sawDone = false;
  private readonly decoder = new SseDecoder();

  constructor(private readonly reader: ChunkReader) {}

  /** The ChatEvents of the next piece of the body, handed out one by one. */
  read(bytes: Uint8Array): Generator<ChatEvent, void, undefined> {
    return this.take(this.decoder.push(bytes));
  }

  /** The ChatEvents of an event the body's end completes (none after [DONE]). */
  readEnd(): Generator<ChatEvent, void, undefined> {
    return this.take(this.sawDone ? [] : this.decoder.end());
  }

  /** What the chunk reader holds back to the end (usage), checked as a whole reply. */
  end(): ChatEvent[] {
    return this.reader.end(this.sawDone);
  }

  private *take(events: Iterable<SseEvent>): Generator<ChatEvent, void, undefined> {
    for (const event of events) {
      if (event.data === SSE_DONE_DATA) {
        this.sawDone = true;
        return;
      }
      yield* this.reader.read(parseEvent(event));
    }
  }
}

function parseEvent(event: SseEvent): unknown {
  if (event.event === 'error') throw new MoongateError('api_error', 'the upstream failed mid-stream');
  try {
    return JSON.parse(event.data);
  } catch {
    throw new MoongateError('api_error', 'the upstream sent a malformed event');
  }
}

/**
 * A `chat.completion` as the one `chat.completion.chunk` that would carry all of it: each
 * choice's `message` becomes its `delta` (the same fields: content, reasoning_content,
 * refusal, tool_calls), so the stream's reader and its hooks read it unchanged.
 */
function completionAsChunk(completion: unknown): unknown {
  if (!isJsonObject(completion) || !Array.isArray(completion.choices)) return completion;
  return {
    ...completion,
    choices: completion.choices.map((choice: unknown) =>
      isJsonObject(choice) && choice.delta === undefined ? { ...choice, delta: choice.message } : choice,
    ),
  };
}

function completionTooLarge(): MoongateError {
  return new MoongateError('api_error', 'the upstream sent a completion too large to read');
}
