/**
 * The upstream request's bytes. A body as JSON.stringify writes it, except that a long
 * request's long message strings (a 1 MB prompt) are copied from the client's own JSON text
 * when it can be trusted to hold them (contract/json-source.ts): escaping a megabyte again
 * cost more than the whole rest of the request (issue 20, docs/benchmark.md).
 */
import type { JsonSource } from '../../contract/index.js';

/**
 * A request body as undici should send it. undici encodes a string body as UTF-8, which in
 * Node 20 costs about 4 ms of CPU a MB of JSON even when every character is ASCII (a 1 MB
 * prompt, issue 20). A string whose UTF-8 length is its length is ASCII (a fast scan), and
 * its Latin-1 bytes are its UTF-8 bytes, copied as they are; any other string goes as it is.
 */
function asciiAsBytes(text: string): Buffer | string {
  return Buffer.byteLength(text, 'utf8') === text.length ? Buffer.from(text, 'latin1') : text;
}

/**
 * A long request's body as its pieces, in order: the JSON around the client's tokens and the
 * tokens themselves, views of the client's body with nothing copied. undici writes an
 * iterable body piece by piece (Dispatcher.md: `Iterable` is a body), under the
 * `content-length` given with it.
 */
export interface PiecedBody {
  pieces: Buffer[];
  length: number;
}

/**
 * `body` as JSON: the same value JSON.stringify would give, with its keys in the same order.
 * With a `source`, a message's string field that is the client's own (the same value, at the
 * same index and name) goes as the client's token (JsonSource.rawString), and the body as
 * its pieces: joining them copied the megabyte once more, into memory of its own that only a
 * full collection gives back (a 1 MB prompt, issue 20).
 */
export function upstreamBody(body: Record<string, unknown>, source: JsonSource | undefined): Buffer | string | PiecedBody {
  const messages = body.messages;
  if (source === undefined || !Array.isArray(messages)) return asciiAsBytes(JSON.stringify(body));
  const pieces: Array<string | Buffer> = [];
  let text = '{';
  let firstKey = true;
  for (const [key, value] of Object.entries(body)) {
    // The messages' own JSON follows their opening bracket.
    const json = key === 'messages' ? '[' : (JSON.stringify(value) as string | undefined);
    if (json === undefined) continue;
    text += member(firstKey, key, json);
    firstKey = false;
    if (key !== 'messages') continue;
    messages.forEach((message: unknown, i) => {
      if (i > 0) text += ',';
      if (typeof message !== 'object' || message === null || Array.isArray(message)) {
        text += JSON.stringify(message) ?? 'null';
        return;
      }
      text += '{';
      let firstField = true;
      for (const [field, part] of Object.entries(message as Record<string, unknown>)) {
        const token = typeof part === 'string' ? source.rawString(i, field, part) : undefined;
        const json = token === undefined ? (JSON.stringify(part) as string | undefined) : '';
        if (json === undefined) continue;
        text += member(firstField, field, json);
        firstField = false;
        if (token === undefined) continue;
        pieces.push(text, source.tokenOf(token));
        text = '';
      }
      text += '}';
    });
    text += ']';
  }
  text += '}';
  if (pieces.length === 0) return asciiAsBytes(text);
  pieces.push(text);
  const bytes = pieces.map((piece) => (typeof piece === 'string' ? Buffer.from(piece, 'utf8') : piece));
  return { pieces: bytes, length: bytes.reduce((sum, piece) => sum + piece.byteLength, 0) };
}

/** One member of an object: `"key":json`, after a comma unless it is the first. */
function member(first: boolean, key: string, json: string): string {
  return `${first ? '' : ','}${JSON.stringify(key)}:${json}`;
}
