/**
 * Local token counting (SPEC.md, "Counting prompt tokens"). No package ships Kimi's own
 * vocabulary, so text is counted with o200k, a close BPE; the message arithmetic follows
 * Kimi's chat template: each message costs its text plus 4 (three header tokens and an end
 * token), each earlier assistant message 2 more (an empty thinking block), and the
 * generation prompt 4. "Hello" alone is 1 + 4 + 4 = 9 tokens.
 */
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import type { ChatMessage, ToolDefinition } from '../contract/index.js';

const PER_MESSAGE = 4;
const EMPTY_THINKING_BLOCK = 2;
const GENERATION_PROMPT = 4;
/** Kimi's template wraps tool declarations in a system-like block of its own. */
const TOOL_BLOCK = 4;

/**
 * User text is plain text: a literal `<|endoftext|>` is counted as the characters it is
 * made of, not refused (gpt-tokenizer throws on special tokens by default).
 */
const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

export function countTextTokens(text: string): number {
  return text.length === 0 ? 0 : countTokens(text, PLAIN_TEXT);
}

export function countPromptTokens(messages: readonly ChatMessage[], tools?: readonly ToolDefinition[]): number {
  let total = GENERATION_PROMPT;
  for (const m of messages) {
    total += PER_MESSAGE;
    if (m.content !== null) total += countTextTokens(m.content);
    if (m.name !== undefined) total += countTextTokens(m.name);
    if (m.role === 'assistant') {
      total += m.reasoning_content === undefined ? EMPTY_THINKING_BLOCK : countTextTokens(m.reasoning_content) + EMPTY_THINKING_BLOCK;
      for (const call of m.tool_calls ?? []) {
        total += countTextTokens(call.function.name) + countTextTokens(call.function.arguments) + PER_MESSAGE;
      }
    }
    if (m.role === 'tool' && m.tool_call_id !== undefined) total += countTextTokens(m.tool_call_id);
  }
  if (tools !== undefined && tools.length > 0) total += TOOL_BLOCK + countTextTokens(JSON.stringify(tools));
  return total;
}
