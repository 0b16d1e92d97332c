/**
 * A long request's long message strings go upstream as the client wrote them (json-source.ts,
 * upstream-body.ts, issue 20). What goes must always mean what JSON.stringify of the same
 * body means, and be the very same bytes when the client wrote canonical JSON; a token is
 * reused only where it really is the value sent.
 */
import { describe, expect, it } from 'vitest';
import { JsonSource, RAW_STRING_FROM, messageStrings } from '../../src/contract/json-source.js';
import { upstreamBody, type PiecedBody } from '../../src/providers/openai-compatible/upstream-body.js';

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

/** Characters that exercise every escape: quotes, backslashes, controls, non-ASCII, emoji, lone surrogates. */
const ALPHABET = ['a', 'b', ' ', 'Z', '"', '\\', '\n', '\t', '\r', '\u0000', '\u001f', '\u007f', 'é', '한', '😀', '\ud800', '\udc00', '/', '{', '}', '[', ']', ',', ':'];

function text(next: () => number, length: number, plainStart: boolean): string {
  let out = plainStart ? 'The plain start of a long string. ' : '';
  while (out.length < length) out += next() < 0.7 ? 'word ' : (ALPHABET[Math.floor(next() * ALPHABET.length)] as string);
  return out;
}

function sourceOf(json: string, ascii: boolean): { value: Record<string, unknown>; source: JsonSource } {
  const value = JSON.parse(json) as Record<string, unknown>;
  const bytes = Buffer.from(json, 'utf8');
  return { value, source: new JsonSource(json, value, ascii && bytes.length === json.length ? bytes : undefined) };
}

/** The body a provider builds from the parsed request: the same strings, in its own key order. */
function upstreamOf(value: Record<string, unknown>): Record<string, unknown> {
  const messages = (value.messages as Array<Record<string, unknown>>).map((m) => ({ role: m.role, content: m.content, ...m }));
  return { model: 'upstream-model', messages, stream: false, max_tokens: 100, temperature: undefined };
}

/** The bytes a body sends: a pieced body's pieces joined, after checking the length it declares. */
function bytesOf(out: Buffer | string | PiecedBody): Buffer {
  if (typeof out === 'string') return Buffer.from(out, 'utf8');
  if (Buffer.isBuffer(out)) return out;
  const joined = Buffer.concat(out.pieces);
  expect(out.length).toBe(joined.length);
  return joined;
}

function decoded(out: Buffer | string | PiecedBody): unknown {
  return JSON.parse(bytesOf(out).toString('utf8'));
}

describe('upstreamBody', () => {
  it('sends what JSON.stringify sends, byte for byte, for canonical JSON from clients', () => {
    const next = random(7);
    for (let round = 0; round < 200; round++) {
      const messages = Array.from({ length: 1 + Math.floor(next() * 4) }, (_, i) => {
        const long = next() < 0.6;
        const m: Record<string, unknown> = { role: i % 2 === 0 ? 'user' : 'assistant', content: text(next, long ? RAW_STRING_FROM + Math.floor(next() * 20_000) : 20, next() < 0.8) };
        if (next() < 0.3) m.reasoning_content = text(next, RAW_STRING_FROM * 2, true);
        if (next() < 0.2) m.name = 'n"a\\me';
        return m;
      });
      const json = JSON.stringify({ model: 'kimi-k2-0905-preview', messages, stream: false, pad: 'x'.repeat(64 * 1024) });
      const ascii = next() < 0.5;
      const { value, source } = sourceOf(ascii ? json.replace(/[^\x20-\x7e]/g, '?') : json, ascii);
      const body = upstreamOf(value);
      const out = upstreamBody(body, source);
      expect(bytesOf(out).toString('utf8')).toBe(JSON.stringify(body));
    }
  });

  it('reuses the client tokens: a long string whose token is not canonical goes as written, meaning the same', () => {
    const content = `${'The plain start of a long string. '}${'slash / and é '.repeat(600)}`;
    // \/ and \u00e9 are what some clients write: JSON.stringify would write / and é.
    const written = JSON.stringify(content).replaceAll('/', '\\/').replaceAll('é', '\\u00e9');
    const json = `{"model":"m","messages":[{"role":"user","content":${written}}],"pad":"${'x'.repeat(64 * 1024)}"}`;
    const { value, source } = sourceOf(json, true);
    const body = upstreamOf(value);
    const out = upstreamBody(body, source);
    expect(bytesOf(out).toString('latin1')).toContain(written);
    expect(decoded(out)).toEqual(JSON.parse(JSON.stringify(body)));
  });

  it('escapes again a string that is not the value parsed at that place', () => {
    const long = `The plain start of a long string. ${'abc '.repeat(RAW_STRING_FROM)}`;
    const json = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: long }], pad: 'x'.repeat(64 * 1024) });
    const { value, source } = sourceOf(json, true);
    const body = upstreamOf(value);
    // The provider changed the content (or the messages moved): the client's token must not go.
    const changed = `${long.slice(0, -1)}!`;
    (body.messages as Array<Record<string, unknown>>)[0]!.content = changed;
    expect(decoded(upstreamBody(body, source))).toEqual(JSON.parse(JSON.stringify(body)));
    body.messages = [{ role: 'system', content: 'first' }, ...(body.messages as unknown[])];
    (body.messages as Array<Record<string, unknown>>)[1]!.content = long;
    expect(decoded(upstreamBody(body, source))).toEqual(JSON.parse(JSON.stringify(body)));
  });

  it('takes the last of repeated keys, as JSON.parse does', () => {
    const a = `The plain start of a long string A ${'a'.repeat(RAW_STRING_FROM)}`;
    const b = `The plain start of a long string B ${'b'.repeat(RAW_STRING_FROM)}`;
    const json = `{"messages":[{"role":"user","content":"${a}"}],"model":"m","messages":[{"role":"user","content":"${a}","content":"${b}"}],"pad":"${'x'.repeat(64 * 1024)}"}`;
    const { value, source } = sourceOf(json, true);
    const body = upstreamOf(value);
    const out = upstreamBody(body, source);
    expect(decoded(out)).toEqual(JSON.parse(JSON.stringify(body)));
    expect(bytesOf(out).toString('latin1')).toContain(b);
    expect(bytesOf(out).toString('latin1')).not.toContain(a);
  });

  it("sends an ASCII body's long token as a view of the client's bytes, not a copy", () => {
    const long = `The plain start of a long string. ${'abc '.repeat(RAW_STRING_FROM)}`;
    const json = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: long }], pad: 'x'.repeat(64 * 1024) });
    const { value, source } = sourceOf(json, true);
    const out = upstreamBody(upstreamOf(value), source) as PiecedBody;
    const client = source.asciiBytes as Buffer;
    const view = out.pieces.find((piece) => piece.buffer === client.buffer);
    expect(view?.toString('latin1')).toBe(JSON.stringify(long));
    expect(out.pieces.filter((piece) => piece.buffer === client.buffer)).toHaveLength(1);
  });

  it('sends without a source exactly what JSON.stringify writes', () => {
    const body = { model: 'm', messages: [{ role: 'user', content: 'héllo "x"' }], stream: false };
    expect(Buffer.from(upstreamBody(body, undefined) as string).toString('utf8')).toBe(JSON.stringify(body));
  });
});

describe('messageStrings', () => {
  it('finds each long message string, whatever the strings and the structure around them hold', () => {
    const long = (seed: string): string => `${seed} \\"quoted\\" \\\\ }, ] {[ ${'x'.repeat(RAW_STRING_FROM)}`;
    const json = `{ "tools" : [{"function":{"name":"a","parameters":{"messages":[{"content":"${long('no')}"}]}}}],
      "messages" : [ {"role":"user","content":"${long('he said')}","x":[1,{"content":"${long('deep')}"}],"name":"${long('n')}"},
      "plain", {"content":""}, {"content":"short"}, {"content":"${long('last')}"} ] }`;
    const found = messageStrings(json);
    const at = (i: number, field: string): unknown => {
      const token = found[i]?.get(field);
      return token === undefined ? undefined : JSON.parse(json.slice(token.start, token.end));
    };
    const parsed = JSON.parse(json) as { messages: Array<Record<string, unknown>> };
    expect(at(0, 'content')).toBe(parsed.messages[0]!.content);
    expect(at(0, 'name')).toBe(parsed.messages[0]!.name);
    expect(at(4, 'content')).toBe(parsed.messages[4]!.content);
    // Short strings, deeper strings and strings outside messages are not kept.
    expect(at(0, 'role')).toBeUndefined();
    expect(at(0, 'x')).toBeUndefined();
    expect(found[1]).toBeUndefined();
    expect(found[2]).toBeUndefined();
    expect(found[3]).toBeUndefined();
  });

  it('keeps nothing for a body of many small messages', () => {
    const json = JSON.stringify({ messages: Array.from({ length: 10_000 }, () => ({ role: 'user', content: 'hi' })) });
    expect(messageStrings(json).filter((m) => m !== undefined)).toHaveLength(0);
  });
});
