/**
 * Local token counting (SPEC.md, "Counting prompt tokens"). No package ships Kimi's own
 * vocabulary, so text is counted with o200k, a close BPE; the message arithmetic follows
 * Kimi's chat template: each message costs its text plus 4 (three header tokens and an end
 * token), each earlier assistant message 2 more (an empty thinking block), and the
 * generation prompt 4. "Hello" alone is 1 + 4 + 4 = 9 tokens.
 */
import { TextCountCache } from './count-cache.js';
import { o200k } from './o200k-encoding.js';
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
 * Whether a UTF-16 unit is one that a regular expression's `\s` matches (ECMA-262's
 * WhiteSpace and LineTerminator). Runs are told apart by this test, one pass over the text:
 * the regular expression this replaced (`\S{128}|\s{128}`) restarted at every character and
 * took a fifth of the time of counting source code.
 */
function isSpaceUnit(code: number): boolean {
  if (code <= 0x20) return code === 0x20 || (code >= 0x09 && code <= 0x0d);
  if (code < 0xa0) return false;
  return (
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000 ||
    code === 0xfeff
  );
}

/**
 * `text` cut into pieces that o200k can encode in linear time: every run of RUN_SLICE or
 * more non-space (or space) characters is cut every RUN_SLICE characters, the rest is left
 * whole. Counting and the simulator's streaming both encode these pieces, so what is
 * streamed and what is counted agree exactly. One pass over the text, with no regular
 * expression (a run of millions of characters costs no stack).
 */
export function* linearPieces(text: string): Generator<string> {
  const length = text.length;
  if (length === 0) return;
  if (length < RUN_SLICE) {
    yield text;
    return;
  }
  // `last`: the start of what is not yet yielded; `runStart`: the start of the current run.
  let last = 0;
  let runStart = 0;
  let spaces = isSpaceUnit(text.charCodeAt(0));
  for (let i = 1; i <= length; i++) {
    const space = i < length ? isSpaceUnit(text.charCodeAt(i)) : !spaces;
    if (space === spaces) continue;
    // The run [runStart, i) is over.
    if (i - runStart >= RUN_SLICE) {
      if (runStart > last) yield text.slice(last, runStart);
      for (let at = runStart; at < i; at += RUN_SLICE) yield text.slice(at, Math.min(at + RUN_SLICE, i));
      last = i;
    }
    runStart = i;
    spaces = space;
  }
  if (last === 0) yield text;
  else if (last < length) yield text.slice(last);
}

/**
 * Builds the tokenizer now rather than at the first count (about 0.3 s of CPU): a server
 * calls this before it listens, so its first request does not wait for it.
 */
export function prepareTokenCounting(): void {
  o200k();
}

export function countTextTokens(text: string): number {
  const { countTokens } = o200k();
  let total = 0;
  for (const piece of linearPieces(text)) total += countTokens(piece, PLAIN_TEXT_ENCODING);
  return total;
}

/** Long texts are counted once per process (count-cache.ts): agents resend the same context every turn. */
const longTexts = new TextCountCache(countTextTokens);

/** The template's arithmetic over messages and tools, each text measured by `measure`. */
function promptArithmetic(messages: readonly ChatMessage[], tools: readonly ToolDefinition[] | undefined, measure: (text: string) => number): number {
  let total = GENERATION_PROMPT;
  for (const m of messages) {
    total += PER_MESSAGE;
    if (m.content !== null) total += measure(m.content);
    if (m.name !== undefined) total += measure(m.name);
    if (m.role === 'assistant') {
      total += m.reasoning_content === undefined ? EMPTY_THINKING_BLOCK : measure(m.reasoning_content) + EMPTY_THINKING_BLOCK;
      for (const call of m.tool_calls ?? []) {
        total += measure(call.function.name) + measure(call.function.arguments) + PER_MESSAGE;
      }
    }
    if (m.role === 'tool' && m.tool_call_id !== undefined) total += measure(m.tool_call_id);
  }
  if (tools !== undefined && tools.length > 0) total += TOOL_BLOCK + measure(JSON.stringify(tools));
  return total;
}

const countLongTextOnce = (text: string): number => longTexts.count(text);

export function countPromptTokens(messages: readonly ChatMessage[], tools?: readonly ToolDefinition[]): number {
  return promptArithmetic(messages, tools, countLongTextOnce);
}

const utf8Bytes = (text: string): number => Buffer.byteLength(text, 'utf8');

/**
 * An upper bound of countPromptTokens at a fraction of its cost (about 0.2 ms for 1 MB
 * instead of 70-500 ms): every o200k token is at least one byte of the text it encodes, so
 * a text has at most as many tokens as UTF-8 bytes. Prose and code run 3.5 to 5 bytes a
 * token, so the bound is 3.5 to 5 times the count (docs/billing.md, "Counting the prompt").
 */
export function promptTokenBound(messages: readonly ChatMessage[], tools?: readonly ToolDefinition[]): number {
  return promptArithmetic(messages, tools, utf8Bytes);
}
