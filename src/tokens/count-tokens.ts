/**
 * Local token counting (SPEC.md, "Counting prompt tokens"). No package ships Kimi's own
 * vocabulary, so text is counted with o200k, a close BPE; the message arithmetic follows
 * Kimi's chat template: each message costs its text plus 4 (three header tokens and an end
 * token), each earlier assistant message 2 more (an empty thinking block), and the
 * generation prompt 4. "Hello" alone is 1 + 4 + 4 = 9 tokens.
 */
import { o200k } from './o200k-encoding.js';

const { countTokens } = o200k;
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
export const PLAIN_TEXT_ENCODING = { disallowedSpecial: new Set<string>() };

/**
 * BPE merging is quadratic in the length of one pre-token, and a run of letters, CJK
 * characters, punctuation or spaces is one pre-token: 20,000 of them take seconds.
 * Such runs are counted in slices of this many characters, which is linear and off by
 * at most a token per slice.
 */
const RUN_SLICE = 128;
/**
 * The first RUN_SLICE characters of a long run. The run's end is found by NEXT_SPACE or
 * NEXT_NON_SPACE: an open-ended `\S{128,}` keeps a backtracking entry per character, and
 * V8 overflows its stack on a run of about 8 million (a 16 MiB body can hold one).
 */
const LONG_RUN = /\S{128}|\s{128}/g;
const NEXT_SPACE = /\s/g;
const NEXT_NON_SPACE = /\S/g;

function runEnd(text: string, from: number, spaces: boolean): number {
  const next = spaces ? NEXT_NON_SPACE : NEXT_SPACE;
  next.lastIndex = from;
  return next.exec(text)?.index ?? text.length;
}

/**
 * `text` cut into pieces that o200k can encode in linear time: every run of RUN_SLICE or
 * more non-space (or space) characters is cut every RUN_SLICE characters, the rest is left
 * whole. Counting and the simulator's streaming both encode these pieces, so what is
 * streamed and what is counted agree exactly.
 */
export function* linearPieces(text: string): Generator<string> {
  if (text.length === 0) return;
  LONG_RUN.lastIndex = 0;
  if (text.length < RUN_SLICE || !LONG_RUN.test(text)) {
    yield text;
    return;
  }
  let last = 0;
  LONG_RUN.lastIndex = 0;
  for (let run = LONG_RUN.exec(text); run !== null; run = LONG_RUN.exec(text)) {
    // The regexes are module-wide: a consumer may run linearPieces again between two yields.
    const runStart = run.index;
    const end = runEnd(text, runStart + RUN_SLICE, /\s/.test(run[0].charAt(0)));
    if (runStart > last) yield text.slice(last, runStart);
    for (let at = runStart; at < end; at += RUN_SLICE) yield text.slice(at, Math.min(at + RUN_SLICE, end));
    last = end;
    LONG_RUN.lastIndex = end;
  }
  if (last < text.length) yield text.slice(last);
}

export function countTextTokens(text: string): number {
  let total = 0;
  for (const piece of linearPieces(text)) total += countTokens(piece, PLAIN_TEXT_ENCODING);
  return total;
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
