/**
 * Turns ChatEvents into `chat.completion.chunk` JSON, in the seed's key order
 * (SPEC.md, "Response (stream true)"). The SSE framing itself is src/sse/'s job.
 */
import type {
  ChatCompletionChunk,
  ChunkChoice,
  ChunkDelta,
  DeltaEvent,
  FinishReason,
  Usage,
} from '../contract/index.js';

/** What follows a running choice's delta, up to the end of its chunk. */
const OPEN_CHOICE_TAIL = '"logprobs":null,"finish_reason":null}],"usage":null}';

export class ChunkEncoder {
  /**
   * The fields every chunk of the stream shares, serialised once: each chunk then costs the
   * stringify of its choices only. The text is byte for byte what JSON.stringify gives for
   * a whole ChatCompletionChunk in this key order (test/unit/completion-builder.test.ts).
   */
  private readonly head: string;

  constructor(id: string, created: number, model: string) {
    const shared: Omit<ChatCompletionChunk, 'choices' | 'usage'> = {
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      system_fingerprint: null,
    };
    const text = JSON.stringify(shared);
    this.head = `${text.slice(0, -1)},"choices":`;
  }

  private chunk(choices: ChunkChoice[], usage: Usage | null): string {
    return `${this.head}${JSON.stringify(choices)},"usage":${usage === null ? 'null' : JSON.stringify(usage)}}`;
  }

  /** The first chunk of each choice: `{"content": "", "role": "assistant"}` as in the seed. */
  role(index: number): string {
    return this.chunk([{ index, delta: { content: '', role: 'assistant' }, logprobs: null, finish_reason: null }], null);
  }

  delta(event: DeltaEvent): string {
    // Nearly every chunk of a reply is text alone, answer or reasoning: written without
    // building the choice objects, byte for byte what the general path below gives.
    if (event.refusal === undefined && event.toolCalls === undefined) {
      if (event.reasoning === undefined && event.content !== undefined) {
        return `${this.head}[{"index":${event.index},"delta":{"content":${JSON.stringify(event.content)}},${OPEN_CHOICE_TAIL}`;
      }
      if (event.content === undefined && event.reasoning !== undefined) {
        const text = JSON.stringify(event.reasoning);
        return `${this.head}[{"index":${event.index},"delta":{"reasoning_content":${text},"reasoning":${text}},${OPEN_CHOICE_TAIL}`;
      }
    }
    const delta: ChunkDelta = {};
    if (event.content !== undefined) delta.content = event.content;
    if (event.reasoning !== undefined) {
      // Moonshot names it reasoning_content, other servers reasoning; the seed sends both.
      delta.reasoning_content = event.reasoning;
      delta.reasoning = event.reasoning;
    }
    if (event.refusal !== undefined) delta.refusal = event.refusal;
    if (event.toolCalls !== undefined) {
      delta.tool_calls = event.toolCalls.map((call) => {
        const fn: { name?: string; arguments?: string } = {};
        if (call.name !== undefined) fn.name = call.name;
        if (call.arguments !== undefined) fn.arguments = call.arguments;
        return call.id === undefined
          ? { index: call.index, function: fn }
          : { index: call.index, id: call.id, type: 'function' as const, function: fn };
      });
    }
    return this.chunk([{ index: event.index, delta, logprobs: null, finish_reason: null }], null);
  }

  finish(index: number, reason: FinishReason): string {
    return this.chunk([{ index, delta: {}, logprobs: null, finish_reason: reason }], null);
  }

  /** Sent whether or not the client asked for stream_options (SPEC.md). */
  usage(usage: Usage): string {
    return this.chunk([], usage);
  }
}
