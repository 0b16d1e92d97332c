/**
 * Aggregates ChatEvents into the non-stream response. Stream and non-stream are built
 * from the same events, so they can never disagree (DESIGN.md).
 */
import type {
  AssistantMessage,
  ChatCompletion,
  DeltaEvent,
  FinishReason,
  ToolCall,
  Usage,
} from '../contract/index.js';

interface ChoiceState {
  /** Whether any event named this choice. */
  touched: boolean;
  content: string;
  reasoning: string;
  refusal: string | null;
  toolCalls: ToolCall[];
  finishReason: FinishReason | null;
}

export class CompletionBuilder {
  private readonly choices: ChoiceState[] = [];

  constructor(
    private readonly id: string,
    private readonly created: number,
    private readonly model: string,
    private readonly thinking: boolean,
    n: number,
  ) {
    for (let i = 0; i < n; i++) this.choice(i);
  }

  private choice(index: number): ChoiceState {
    let state = this.choices[index];
    if (state === undefined) {
      state = { touched: false, content: '', reasoning: '', refusal: null, toolCalls: [], finishReason: null };
      this.choices[index] = state;
    }
    return state;
  }

  addDelta(event: DeltaEvent): void {
    const state = this.choice(event.index);
    state.touched = true;
    if (event.content !== undefined) state.content += event.content;
    if (event.reasoning !== undefined) state.reasoning += event.reasoning;
    if (event.refusal !== undefined) state.refusal = (state.refusal ?? '') + event.refusal;
    for (const delta of event.toolCalls ?? []) {
      let call = state.toolCalls[delta.index];
      if (call === undefined) {
        call = { id: '', type: 'function', function: { name: '', arguments: '' } };
        state.toolCalls[delta.index] = call;
      }
      if (delta.id !== undefined) call.id = delta.id;
      if (delta.name !== undefined) call.function.name += delta.name;
      if (delta.arguments !== undefined) call.function.arguments += delta.arguments;
    }
  }

  finish(index: number, reason: FinishReason): void {
    const state = this.choice(index);
    state.touched = true;
    state.finishReason = reason;
  }

  build(usage: Usage): ChatCompletion {
    // An upstream that ignores n (Ollama does) sends fewer choices: report those it sent.
    return {
      id: this.id,
      object: 'chat.completion',
      created: this.created,
      model: this.model,
      choices: this.choices.flatMap((state, index) => {
        if (index > 0 && !state.touched) return [];
        const toolCalls = state.toolCalls.filter((c) => c !== undefined);
        // Key order follows the seed: role, content, refusal, reasoning_content, reasoning, tool_calls.
        const message: AssistantMessage =
          this.thinking || state.reasoning !== ''
            ? {
                role: 'assistant',
                content: state.content,
                refusal: state.refusal,
                // Thinking models always carry both fields; others only if the upstream reasoned anyway.
                reasoning_content: state.reasoning,
                reasoning: state.reasoning,
                tool_calls: toolCalls,
              }
            : { role: 'assistant', content: state.content, refusal: state.refusal, tool_calls: toolCalls };
        return {
          index,
          message,
          logprobs: null,
          finish_reason: state.finishReason ?? (toolCalls.length > 0 ? 'tool_calls' : 'stop'),
        };
      }),
      usage,
    };
  }
}
