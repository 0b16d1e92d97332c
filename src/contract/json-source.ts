/**
 * A long request body's JSON text as it arrived, so that its long message strings (a 1 MB
 * prompt's content) can go upstream as the client wrote them instead of being escaped again
 * by JSON.stringify, which on Node 20 costs about 3 ms a megabyte, more than parsing it did
 * (issue 20; docs/benchmark.md). The HTTP layer keeps the text of a body of at least
 * SOURCE_KEPT_FROM characters, keyed by the parsed value; parseChatRequest hands it on with
 * the request, and the provider asks `rawString` for each long string it sends.
 *
 * The text is one JSON.parse has already accepted, so its structure can be walked without
 * checking it: `messageStrings` finds where each `messages[i].<field>` string lies, and
 * `rawString` hands out one only when the value asked for is the very value JSON.parse made
 * of it, so whatever happens to a request between parsing and sending, the upstream gets
 * the value it was validated, counted and held with, or the string is escaped again.
 */
import { isAscii } from 'node:buffer';
import { MoongateError } from './errors.js';

/** Bodies shorter than this are not kept: escaping their strings costs less than looking. */
export const SOURCE_KEPT_FROM = 64 * 1024;
/** Strings shorter than this are always escaped again. */
export const RAW_STRING_FROM = 4096;

/** Where a string's token (its quotes included) lies in the text: `text.slice(start, end)`. */
export interface RawToken {
  start: number;
  end: number;
}

export class JsonSource {
  /** Where each long message string's token lies: found once, when the source is made. */
  readonly #messages: Array<Map<string, RawToken> | undefined>;
  /** The text, kept only when the body was not ASCII (an ASCII body's bytes hold every token). */
  readonly #text: string | undefined;

  /**
   * @param text the body as decoded, which JSON.parse turned into `value`
   * @param asciiBytes the body's bytes when it was pure ASCII (offsets in `text` are offsets in them)
   *
   * A source is made only for a body with a long message string, which the provider will ask
   * for, so the strings are found at once; an ASCII body's text is then not kept: a megabyte
   * of text kept for the whole request is a megabyte the collector moves to the old
   * generation whenever a scavenge falls inside the request (issue 20).
   */
  constructor(
    text: string,
    readonly value: unknown,
    readonly asciiBytes: Buffer | undefined,
  ) {
    this.#messages = messageStrings(text);
    this.#text = asciiBytes === undefined ? text : undefined;
  }

  /** The client's token at `token`, as bytes when the body was ASCII, else as text. */
  tokenOf(token: RawToken): Buffer | string {
    return this.asciiBytes?.subarray(token.start, token.end) ?? (this.#text as string).slice(token.start, token.end);
  }

  /**
   * The client's own token for `messages[index][field]`, when that is `value` as JSON.parse
   * made it and at least RAW_STRING_FROM long; undefined otherwise.
   */
  rawString(index: number, field: string, value: string): RawToken | undefined {
    if (value.length < RAW_STRING_FROM || parsedField(this.value, index, field) !== value) return undefined;
    return this.#messages[index]?.get(field);
  }
}

/**
 * The source rides on the parsed body itself, under a symbol no JSON text can name, and not
 * in a WeakMap keyed by the body. V8's scavenger does not clear a WeakMap's entry whose value
 * refers to its key (the source holds the body), so a WeakMap kept every long body, its
 * bytes and its strings alive until the next full collection: 830 KB promoted per 1 MB
 * request, and the external memory of its buffers piling up until it forced a mark-compact
 * (issue 20, docs/benchmark.md "Where the time goes", "A long prompt's source").
 */
const SOURCE = Symbol('moongate.jsonSource');

/**
 * Remembers the text a parsed body came from, when it has a message string rawString could
 * hand out; a short body, one that is not an object, or one with no long message string is
 * not kept.
 */
export function keepJsonSource(text: string, value: unknown, asciiBytes: Buffer | undefined): void {
  if (text.length >= SOURCE_KEPT_FROM && hasLongMessageString(value)) {
    Object.defineProperty(value, SOURCE, { value: new JsonSource(text, value, asciiBytes) });
  }
}

/** Whether some `messages[i].<field>` is a string of at least RAW_STRING_FROM characters (a look at each message's own fields). */
function hasLongMessageString(value: unknown): boolean {
  const messages = typeof value === 'object' && value !== null ? (value as { messages?: unknown }).messages : undefined;
  if (!Array.isArray(messages)) return false;
  for (const message of messages as unknown[]) {
    if (typeof message !== 'object' || message === null) continue;
    for (const key in message) {
      if (!Object.hasOwn(message, key)) continue;
      const field: unknown = (message as Record<string, unknown>)[key];
      if (typeof field === 'string' && field.length >= RAW_STRING_FROM) return true;
    }
  }
  return false;
}

/**
 * A request body's bytes as the JSON value they hold, as every route reads a body: a bad
 * request for an empty body or one that is not JSON, and the text kept for a long one.
 * Most bodies are pure ASCII (JSON escapes what is not, and most prompts are English or
 * code): for those, Latin-1 decoding gives the same string as UTF-8 without UTF-8's
 * validation, which for a 1 MB prompt is about half the decoding's CPU (issue 20). The
 * ASCII test is a SIMD scan; any other body is decoded as UTF-8.
 */
export function parseJsonBody(body: Buffer | string): unknown {
  const ascii = typeof body !== 'string' && isAscii(body);
  const text = typeof body === 'string' ? body : body.toString(ascii ? 'latin1' : 'utf8');
  if (text.trim() === '') throw new MoongateError('bad_request', 'the request body is empty; it must be a JSON object');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new MoongateError('bad_request', 'the request body is not valid JSON');
  }
  // A long body's text is kept with it: its long strings go upstream as written.
  keepJsonSource(text, value, ascii ? (body as Buffer) : undefined);
  return value;
}

export function jsonSourceOf(value: unknown): JsonSource | undefined {
  return typeof value === 'object' && value !== null ? ((value as { [SOURCE]?: JsonSource })[SOURCE] ?? undefined) : undefined;
}

function parsedField(body: unknown, index: number, field: string): unknown {
  const messages = (body as { messages?: unknown } | null)?.messages;
  if (!Array.isArray(messages)) return undefined;
  const message: unknown = messages[index];
  return typeof message === 'object' && message !== null && Object.hasOwn(message, field) ? (message as Record<string, unknown>)[field] : undefined;
}

interface Frame {
  array: boolean;
  /** An object's current key, where it matters (the top level and each message). */
  key: string | undefined;
  /** An array's current element. */
  index: number;
}

/**
 * Where each string member of each element of the top-level `messages` array lies, in a
 * text JSON.parse accepted: `[i].get(field)`, for tokens of at least RAW_STRING_FROM
 * characters between their quotes (the only ones rawString hands out). The walk steps over a string with indexOf to
 * its closing quote and looks at every other character once, so it costs the number of
 * quotes and structural characters, not the length of the strings. As in JSON.parse, a
 * repeated key's last value is the one that counts: a later `messages` array starts over,
 * a later member of the same name replaces the earlier.
 */
export function messageStrings(text: string): Array<Map<string, RawToken> | undefined> {
  let found: Array<Map<string, RawToken> | undefined> = [];
  const stack: Frame[] = [];
  let wantKey = false;
  const inMessages = (): boolean => stack[0]?.key === 'messages' && stack[1]?.array === true;
  for (let at = 0; at < text.length; ) {
    const c = text.charCodeAt(at);
    if (c === 0x22) {
      const end = closingQuote(text, at + 1) + 1;
      const top = stack[stack.length - 1];
      if (top !== undefined && !top.array && wantKey) {
        // Only the keys of the top level and of a message matter; deeper ones are not read.
        top.key = stack.length === 1 || stack.length === 3 ? (JSON.parse(text.slice(at, end)) as string) : undefined;
        wantKey = false;
      } else if (end - at - 2 >= RAW_STRING_FROM && stack.length === 3 && top !== undefined && top.key !== undefined && inMessages()) {
        // Only strings that can be long enough are kept (a token is never shorter than its value),
        // so a body of many small messages costs no memory here.
        const index = stack[1]!.index;
        (found[index] ??= new Map()).set(top.key, { start: at, end });
      }
      at = end;
      continue;
    }
    if (c === 0x7b /* { */) {
      stack.push({ array: false, key: undefined, index: 0 });
      wantKey = true;
    } else if (c === 0x5b /* [ */) {
      stack.push({ array: true, key: undefined, index: 0 });
      if (stack.length === 2 && inMessages()) found = [];
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      wantKey = false;
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top?.array === true) top.index++;
      else wantKey = true;
    }
    at++;
  }
  return found;
}

/** The index of the first unescaped quote at or after `from` (the text is valid JSON: there is one). */
function closingQuote(text: string, from: number): number {
  for (let at = from; ; at++) {
    at = text.indexOf('"', at);
    if (at < 0) throw new Error('unterminated string in a text JSON.parse accepted');
    let run = 0;
    while (text.charCodeAt(at - run - 1) === 0x5c) run++;
    if (run % 2 === 0) return at;
  }
}
