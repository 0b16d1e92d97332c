/** Response and chunk shapes, field for field and in the seed's key order (SPEC.md). */

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: {
    cached_tokens?: number;
    /** Prompt tokens the upstream wrote to its context cache; present only when it reported some. */
    cache_write_tokens?: number;
    cached_tokens_details: Record<string, never>;
  };
  completion_tokens_details: Record<string, never>;
}

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface AssistantMessage {
  role: 'assistant';
  content: string | null;
  refusal: string | null;
  /** Thinking models only; the same text as `reasoning`. */
  reasoning_content?: string;
  reasoning?: string;
  tool_calls: ToolCall[];
}

export interface ChatCompletionChoice {
  index: number;
  message: AssistantMessage;
  logprobs: null;
  finish_reason: FinishReason;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: ChatCompletionChoice[];
  usage: Usage;
}

export interface ChunkToolCall {
  index: number;
  id?: string;
  type?: 'function';
  function: { name?: string; arguments?: string };
}

export interface ChunkDelta {
  content?: string;
  role?: 'assistant';
  reasoning_content?: string;
  reasoning?: string;
  refusal?: string;
  tool_calls?: ChunkToolCall[];
}

export interface ChunkChoice {
  index: number;
  delta: ChunkDelta;
  logprobs: null;
  finish_reason: FinishReason | null;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  system_fingerprint: null;
  choices: ChunkChoice[];
  usage: Usage | null;
}

/**
 * The usage object, in the seed's key order. `cached_tokens` and `cache_write_tokens` appear
 * only when the upstream reported them above zero, so a reply without caching keeps the
 * seed's exact shape; the numbers are the upstream's, passed on as it reported them.
 */
export function makeUsage(promptTokens: number, completionTokens: number, cachedTokens = 0, cacheWriteTokens = 0): Usage {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: promptDetails(cachedTokens, cacheWriteTokens),
    completion_tokens_details: {},
  };
}

function promptDetails(cachedTokens: number, cacheWriteTokens: number): Usage['prompt_tokens_details'] {
  if (cacheWriteTokens > 0) {
    return cachedTokens > 0
      ? { cached_tokens: cachedTokens, cache_write_tokens: cacheWriteTokens, cached_tokens_details: {} }
      : { cache_write_tokens: cacheWriteTokens, cached_tokens_details: {} };
  }
  return cachedTokens > 0 ? { cached_tokens: cachedTokens, cached_tokens_details: {} } : { cached_tokens_details: {} };
}
