/**
 * The one SSE decoder: bytes → events, split-safe.
 *
 * Parsing follows the WHATWG HTML "Server-sent events" section, 9.2.6 "Interpreting an
 * event stream" (https://html.spec.whatwg.org/multipage/server-sent-events.html):
 * - a line ends in CRLF, LF or CR; a CR that ends one chunk and an LF that starts the next
 *   are one line ending;
 * - a blank line dispatches the event; `data` lines join with LF; one space after the colon
 *   is dropped; lines that start with `:` are comments;
 * - a UTF-8 BOM at the start of the stream is dropped, and a character split across chunks
 *   is decoded when its last byte arrives; invalid UTF-8 becomes U+FFFD, as the spec's
 *   "UTF-8 decode" does.
 *
 * The bytes are decoded without a TextDecoder of each stream's own: in Node a TextDecoder
 * asked to stream opens an ICU converter, about 1 KB per open stream between it and its
 * object (5 MiB for 5,000 open streams; docs/operations.md, "Memory"). Only the bytes of a
 * character not yet complete (at most 3) are held back to the next chunk, and the rest is
 * decoded at once by one shared decoder, which gives the same text however the stream is split.
 *
 * One deliberate difference: at the end of the stream the spec discards an event that was
 * not followed by a blank line. `end()` dispatches it instead, so an upstream that closes
 * right after `data: [DONE]\n` (no blank line) is not mistaken for a truncated stream.
 * A genuinely truncated line then reaches the caller as an unparseable `data`, which the
 * caller reports as a malformed event rather than silently losing it.
 *
 * Every byte is looked at once: each chunk is scanned only for its own line endings and the
 * unfinished tail is kept as fragments, so decoding is O(n) however the stream is split.
 */

export interface SseEvent {
  /** The `event` field, when the event named one (the spec's default, "message", is left implicit). */
  event?: string;
  /** The `data` lines of the event, joined with LF. */
  data: string;
  /** The `id` field of this event's block, when it had one. */
  id?: string;
  /** The `retry` field of this event's block (milliseconds), when it had a valid one. */
  retry?: number;
}

const LF = 0x0a;
const BOM = 0xfeff;
/**
 * Shared by every decoder, and never asked to stream (which would open an ICU converter):
 * each call decodes whole characters only. ignoreBOM keeps a BOM at the start of a chunk in
 * the middle of a stream; the decoder drops the stream's first one itself.
 */
const UTF8 = new TextDecoder('utf-8', { ignoreBOM: true });
const NULL_CHAR = '\u0000';
const DIGITS_ONLY = /^[0-9]+$/;

export class SseDecoder {
  /** The first bytes of a character that the last chunk ended in the middle of. */
  private partial: Uint8Array | undefined;
  /** Text was decoded since the stream began: a BOM is dropped only before any. */
  private begun = false;
  /** Fragments of the line that has started but not ended yet. */
  private lineParts: string[] = [];
  /** The previous text ended in CR: an LF at the start of the next text belongs to it. */
  private pendingCr = false;

  private data: string[] = [];
  private sawData = false;
  private eventType: string | undefined;
  private id: string | undefined;
  private retry: number | undefined;

  /** Decodes one chunk of the stream; returns the events it completed. */
  push(chunk: Uint8Array): SseEvent[] {
    const events: SseEvent[] = [];
    this.scan(this.decode(chunk), events);
    return events;
  }

  /**
   * Ends the stream: decodes bytes held back for an unfinished character, treats an
   * unfinished last line as a line, and dispatches an event not followed by a blank line.
   * The decoder can be reused for a new stream afterwards.
   */
  end(): SseEvent[] {
    const events: SseEvent[] = [];
    if (this.partial !== undefined) {
      // A character cut off by the end of the stream: U+FFFD for its bytes.
      const rest = UTF8.decode(this.partial);
      this.partial = undefined;
      this.scan(this.withoutBom(rest), events);
    }
    this.begun = false;
    if (this.lineParts.length > 0) {
      const line = this.lineParts.join('');
      this.lineParts = [];
      this.processLine(line, events);
    }
    this.pendingCr = false;
    this.dispatch(events);
    return events;
  }

  /** The text of `chunk` up to its last whole character; the bytes after it wait for the next chunk. */
  private decode(chunk: Uint8Array): string {
    let bytes = chunk;
    if (this.partial !== undefined) {
      bytes = new Uint8Array(this.partial.length + chunk.length);
      bytes.set(this.partial);
      bytes.set(chunk, this.partial.length);
      this.partial = undefined;
    }
    const whole = wholeCharacters(bytes);
    if (whole === bytes.length) return this.withoutBom(UTF8.decode(bytes));
    this.partial = bytes.slice(whole);
    return this.withoutBom(UTF8.decode(bytes.subarray(0, whole)));
  }

  private withoutBom(text: string): string {
    if (this.begun || text.length === 0) return text;
    this.begun = true;
    return text.charCodeAt(0) === BOM ? text.slice(1) : text;
  }

  private scan(text: string, events: SseEvent[]): void {
    if (text.length === 0) return;
    let start = 0;
    if (this.pendingCr) {
      this.pendingCr = false;
      if (text.charCodeAt(0) === LF) start = 1;
    }
    // Line breaks are found with indexOf (native) rather than by testing every character:
    // an event is a few hundred characters and one or two line breaks. Most streams hold
    // no CR at all, so its search usually runs once per chunk.
    // Each search is redone only once the line it found is consumed, and never after it
    // found none: a chunk costs one pass per kind of line break, whatever its line count.
    let nextCr = text.indexOf('\r', start);
    let nextLf = text.indexOf('\n', start);
    for (;;) {
      if (nextLf !== -1 && nextLf < start) nextLf = text.indexOf('\n', start);
      if (nextCr !== -1 && nextCr < start) nextCr = text.indexOf('\r', start);
      const i = nextLf === -1 ? nextCr : nextCr === -1 ? nextLf : Math.min(nextLf, nextCr);
      if (i === -1) break;
      const tail = text.slice(start, i);
      let line: string;
      if (this.lineParts.length > 0) {
        this.lineParts.push(tail);
        line = this.lineParts.join('');
        this.lineParts = [];
      } else {
        line = tail;
      }
      start = i + 1;
      if (i === nextCr) {
        if (start < text.length) {
          if (text.charCodeAt(start) === LF) start++;
        } else {
          this.pendingCr = true;
        }
      }
      this.processLine(line, events);
    }
    if (start < text.length) this.lineParts.push(text.slice(start));
  }

  private processLine(line: string, events: SseEvent[]): void {
    if (line.length === 0) {
      this.dispatch(events);
      return;
    }
    if (line.charCodeAt(0) === 0x3a /* ':' */) return;

    const colon = line.indexOf(':');
    let field: string;
    let value: string;
    if (colon === -1) {
      field = line;
      value = '';
    } else {
      field = line.slice(0, colon);
      value = line.charCodeAt(colon + 1) === 0x20 /* ' ' */ ? line.slice(colon + 2) : line.slice(colon + 1);
    }

    switch (field) {
      case 'data':
        this.data.push(value);
        this.sawData = true;
        break;
      case 'event':
        this.eventType = value;
        break;
      case 'id':
        // The spec ignores an id that contains NULL.
        if (!value.includes(NULL_CHAR)) this.id = value;
        break;
      case 'retry':
        if (DIGITS_ONLY.test(value)) this.retry = Number.parseInt(value, 10);
        break;
      default:
        // Unknown fields are ignored (spec).
        break;
    }
  }

  /** Dispatches the buffered event, if it has data (an event without data is not dispatched, per spec). */
  private dispatch(events: SseEvent[]): void {
    if (this.sawData) {
      const event: SseEvent = { data: this.data.join('\n') };
      if (this.eventType !== undefined && this.eventType !== '') event.event = this.eventType;
      if (this.id !== undefined) event.id = this.id;
      if (this.retry !== undefined) event.retry = this.retry;
      events.push(event);
    }
    this.data = [];
    this.sawData = false;
    this.eventType = undefined;
    this.id = undefined;
    this.retry = undefined;
  }
}

/**
 * How many bytes of `bytes` end on a character boundary: all of them, unless they end in the
 * first bytes of a multi-byte character whose remaining bytes have not arrived. Bytes that
 * can never become a character (a stray continuation byte, an invalid lead byte) count as
 * whole: decoding turns them into U+FFFD now, as it would later.
 */
function wholeCharacters(bytes: Uint8Array): number {
  const length = bytes.length;
  // A character has at most 4 bytes, so an unfinished one has its lead among the last 3.
  for (let back = 1; back <= 3 && back <= length; back++) {
    const byte = bytes[length - back] as number;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: its lead is further back
    const needs = byte >= 0xf0 && byte <= 0xf4 ? 4 : byte >= 0xe0 && byte < 0xf0 ? 3 : byte >= 0xc2 && byte < 0xe0 ? 2 : 1;
    return needs > back ? length - back : length;
  }
  return length;
}

/** Decodes a byte stream (an undici body, a web stream, a file, an array of chunks) into SSE events. */
export async function* decodeSse(body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new SseDecoder();
  for await (const chunk of body) {
    yield* decoder.push(chunk);
  }
  yield* decoder.end();
}
