/**
 * Turns the parsed `chat.completion.chunk` objects of one OpenAI-compatible stream into
 * ChatEvents, and checks at the end that the stream was complete.
 *
 * One reader per stream: it remembers which choices started and finished and the last
 * usage reported, because the provider contract (providers/provider.ts) wants one `finish`
 * per choice and at most one `usage` event, after every finish.
 *
 * Upstreams differ in small ways; a provider subclasses this reader and overrides the
 * protected hooks (`readChoice`, `readDelta`, `readUsage`, `mapFinishReason`,
 * `reasoningFields`) instead of copying it.
 */
import { MoongateError } from '../../contract/index.js';
import type { ChatEvent, DeltaEvent, FinishReason, ToolCallDelta, UsageEvent } from '../../contract/index.js';

export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function malformed(): MoongateError {
  return new MoongateError('api_error', 'the upstream sent a malformed event');
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * More tokens than any request could use (Kimi's context is 262,144 tokens; this is 380 times
 * that): an upstream that reports more is not counting, and moongate counts itself. A count
 * past it would also not fit the usage log (PostgreSQL's bigint, a JavaScript number read back).
 */
export const MAX_REPORTED_TOKENS = 100_000_000;

/** A token count an upstream reported, or undefined when it is not one (or not believable). */
export function tokenCount(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_REPORTED_TOKENS ? value : undefined;
}

function choiceIndex(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : fallback;
}

export class ChunkReader {
  /**
   * Delta fields that carry reasoning text; the first one that is a non-empty string wins.
   * Moonshot and SGLang name it `reasoning_content`, vLLM (since 0.10) `reasoning`; an upstream
   * that sends both (another moongate, the seed's hosted service) sends the same text twice.
   */
  protected readonly reasoningFields: readonly string[] = ['reasoning_content', 'reasoning'];

  /** Choice indexes seen in any chunk. */
  protected readonly started = new Set<number>();
  /** Choice indexes that sent a finish_reason. */
  protected readonly finished = new Set<number>();
  /** The latest usage the upstream reported; a later report replaces an earlier one. */
  protected usage: UsageEvent | undefined;

  /** Reads one parsed chunk. Throws MoongateError('api_error') for a chunk of the wrong shape. */
  read(chunk: unknown): ChatEvent[] {
    if (!isJsonObject(chunk)) throw malformed();
    // vLLM and SGLang report a failure after the stream started as `data: {"error": {...}}`.
    if (chunk.error !== undefined && chunk.error !== null) {
      throw new MoongateError('api_error', 'the upstream failed mid-stream');
    }
    const events: ChatEvent[] = [];
    const { choices } = chunk;
    if (Array.isArray(choices)) {
      for (let position = 0; position < choices.length; position++) {
        this.readChoice(choices[position], position, events);
      }
    } else if (choices !== undefined && choices !== null) {
      throw malformed();
    }
    // The usage chunk of `stream_options.include_usage` has `choices: []`; some servers put
    // usage on a chunk that still has choices. Either way it is kept for the end.
    this.noteUsage(chunk.usage);
    return events;
  }

  /**
   * Called once the upstream sent `[DONE]` (`sawDone`) or closed the body. Returns the usage
   * event, if the upstream reported one, or throws when the reply is incomplete.
   */
  end(sawDone: boolean): ChatEvent[] {
    const unfinished = [...this.started].some((index) => !this.finished.has(index));
    if (!sawDone && (this.finished.size === 0 || unfinished)) {
      throw new MoongateError('api_error', 'the upstream closed the stream early');
    }
    if (this.started.size === 0) throw new MoongateError('api_error', 'the upstream sent no choices');
    if (unfinished) throw new MoongateError('api_error', 'the upstream ended a choice without a finish reason');
    return this.usage === undefined ? [] : [this.usage];
  }

  /** Reads one element of `choices`; `position` is its place in the array (the index when it has none). */
  protected readChoice(choice: unknown, position: number, events: ChatEvent[]): void {
    if (!isJsonObject(choice)) throw malformed();
    const index = choiceIndex(choice.index, position);
    this.started.add(index);
    // A choice ends at its finish (provider contract); anything after it is dropped.
    if (this.finished.has(index)) return;

    if (isJsonObject(choice.delta)) {
      const delta = this.readDelta(index, choice.delta);
      if (delta !== undefined) events.push(delta);
    }
    const reason = nonEmptyString(choice.finish_reason);
    if (reason !== undefined) {
      events.push({ type: 'finish', index, reason: this.mapFinishReason(reason) });
      this.finished.add(index);
    }
  }

  /**
   * Reads a choice's `delta`. Returns undefined for a delta that carries nothing, such as
   * the first chunk's `{"role": "assistant", "content": ""}` or the last chunk's `{}`.
   */
  protected readDelta(index: number, delta: JsonObject): DeltaEvent | undefined {
    const event: DeltaEvent = { type: 'delta', index };
    let carries = false;
    const reasoning = this.readReasoning(delta);
    if (reasoning !== undefined) {
      event.reasoning = reasoning;
      carries = true;
    }
    const content = nonEmptyString(delta.content);
    if (content !== undefined) {
      event.content = content;
      carries = true;
    }
    const refusal = nonEmptyString(delta.refusal);
    if (refusal !== undefined) {
      event.refusal = refusal;
      carries = true;
    }
    const toolCalls = this.readToolCalls(delta.tool_calls);
    if (toolCalls !== undefined) {
      event.toolCalls = toolCalls;
      carries = true;
    }
    return carries ? event : undefined;
  }

  protected readReasoning(delta: JsonObject): string | undefined {
    for (const field of this.reasoningFields) {
      const text = nonEmptyString(delta[field]);
      if (text !== undefined) return text;
    }
    return undefined;
  }

  /** OpenAI's delta form: `[{index, id?, type?, function: {name?, arguments?}}]`, arguments in fragments. */
  protected readToolCalls(value: unknown): ToolCallDelta[] | undefined {
    if (!Array.isArray(value)) return undefined;
    const calls: ToolCallDelta[] = [];
    for (let position = 0; position < value.length; position++) {
      const raw: unknown = value[position];
      if (!isJsonObject(raw)) throw malformed();
      // Some servers (older Ollama) leave out `index`; the position stands in for it.
      const call: ToolCallDelta = { index: choiceIndex(raw.index, position) };
      const id = nonEmptyString(raw.id);
      if (id !== undefined) call.id = id;
      if (isJsonObject(raw.function)) {
        const name = nonEmptyString(raw.function.name);
        if (name !== undefined) call.name = name;
        const args = nonEmptyString(raw.function.arguments);
        if (args !== undefined) call.arguments = args;
      }
      if (call.id !== undefined || call.name !== undefined || call.arguments !== undefined) calls.push(call);
    }
    return calls.length > 0 ? calls : undefined;
  }

  /**
   * Reads an OpenAI usage object. `cachedTokens` comes from `prompt_tokens_details.cached_tokens`
   * (OpenAI, vLLM, SGLang), `cacheWriteTokens` from `prompt_tokens_details.cache_write_tokens`
   * (OpenAI's name for the prompt tokens written to the cache). Returns undefined when it
   * holds no count.
   */
  protected readUsage(value: unknown): UsageEvent | undefined {
    if (!isJsonObject(value)) return undefined;
    const usage: UsageEvent = { type: 'usage' };
    const prompt = tokenCount(value.prompt_tokens);
    if (prompt !== undefined) usage.promptTokens = prompt;
    const completion = tokenCount(value.completion_tokens);
    if (completion !== undefined) usage.completionTokens = completion;
    const details = value.prompt_tokens_details;
    const cached = isJsonObject(details) ? tokenCount(details.cached_tokens) : undefined;
    if (cached !== undefined) usage.cachedTokens = cached;
    const written = isJsonObject(details) ? tokenCount(details.cache_write_tokens) : undefined;
    if (written !== undefined) usage.cacheWriteTokens = written;
    return prompt === undefined && completion === undefined && cached === undefined && written === undefined ? undefined : usage;
  }

  /** Keeps a usage report for the end of the stream. */
  protected noteUsage(value: unknown): void {
    const usage = this.readUsage(value);
    if (usage !== undefined) this.usage = usage;
  }

  /**
   * Only the four reasons of SPEC.md may leave the provider. `abort` (vLLM, when the engine
   * dropped the request) and `error` mean the reply is incomplete: that is a failure, not a stop.
   */
  protected mapFinishReason(reason: string): FinishReason {
    switch (reason) {
      case 'stop':
      case 'length':
      case 'tool_calls':
      case 'content_filter':
        return reason;
      case 'function_call':
        return 'tool_calls';
      case 'max_tokens':
        return 'length';
      case 'abort':
      case 'error':
        throw new MoongateError('api_error', 'the upstream aborted the reply');
      default:
        // e.g. `eos` or `end_turn` from less common servers: the model stopped by itself.
        return 'stop';
    }
  }
}
