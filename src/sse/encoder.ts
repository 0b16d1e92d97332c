/**
 * The one SSE encoder. Nothing else in the code base writes `data: ` or `[DONE]`
 * (DESIGN.md, "One SSE decoder and one SSE encoder").
 *
 * Framing follows the WHATWG event stream format: a field per line, one space after the
 * colon, a blank line to end the event. A line break inside a value would end the field
 * early, so multi-line text is sent as several `data:` lines, which a reader joins with LF
 * (CR and CRLF inside the text therefore come back as LF).
 */

const LINE_BREAK = /\r\n|\r|\n/;
const HAS_LINE_BREAK = /[\r\n]/;

function fieldLines(prefix: string, text: string): string {
  let out = '';
  for (const line of text.split(LINE_BREAK)) out += `${prefix}${line}\n`;
  return out;
}

/** One event carrying `data`, e.g. a JSON chunk: `data: {...}\n\n`. */
export function encodeSseData(data: string): string {
  // JSON text never holds a raw line break: one line, without splitting.
  if (!HAS_LINE_BREAK.test(data)) return `data: ${data}\n\n`;
  return `${fieldLines('data: ', data)}\n`;
}

/** The `data` of the OpenAI stream terminator; readers compare against it. */
export const SSE_DONE_DATA = '[DONE]';

/** The OpenAI stream terminator (SPEC.md, "Response (stream true)", step 7). */
export const SSE_DONE = 'data: [DONE]\n\n';

/**
 * A comment, which every reader ignores: `: text\n\n`. Used for keep-alives, so proxies
 * don't close a stream that is quiet while a model thinks.
 */
export function encodeSseComment(text: string): string {
  return `${fieldLines(': ', text)}\n`;
}
