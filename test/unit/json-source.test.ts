/**
 * A long body's source (json-source.ts, issue 20): kept on the parsed body only when some
 * message string is long enough to be sent as written, invisible to everything that reads the
 * body as JSON, and for an ASCII body held as its bytes alone.
 */
import { describe, expect, it } from 'vitest';
import { RAW_STRING_FROM, SOURCE_KEPT_FROM, jsonSourceOf, parseJsonBody } from '../../src/contract/json-source.js';

const LONG = 'an agent sends its whole context every turn.\n'.repeat(Math.ceil((RAW_STRING_FROM * 20) / 45));

function bodyOf(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

describe('parseJsonBody and jsonSourceOf', () => {
  it('keeps an ASCII body with a long message string as its bytes, and hands out the client token', () => {
    const bytes = bodyOf({ model: 'kimi-k2-0905-preview', messages: [{ role: 'system', content: 'short' }, { role: 'user', content: LONG }] });
    expect(bytes.length).toBeGreaterThanOrEqual(SOURCE_KEPT_FROM);
    const body = parseJsonBody(bytes) as { messages: Array<{ content: string }> };
    const source = jsonSourceOf(body);
    expect(source).toBeDefined();
    expect(source?.asciiBytes).toBe(bytes);
    const content = body.messages[1]?.content as string;
    const token = source?.rawString(1, 'content', content);
    expect(token).toBeDefined();
    const sent = source?.tokenOf(token!);
    expect(Buffer.isBuffer(sent)).toBe(true);
    expect((sent as Buffer).toString('latin1')).toBe(JSON.stringify(content));
    // The short message is escaped again, never handed out.
    expect(source?.rawString(0, 'content', 'short')).toBeUndefined();
    // A value that is not the parsed one is not handed out either.
    expect(source?.rawString(1, 'content', `${content} `)).toBeUndefined();
  });

  it('keeps a body that is not ASCII as its text, and hands out the client token', () => {
    const long = `한국어 ${LONG}`;
    const body = parseJsonBody(bodyOf({ model: 'kimi-k2-0905-preview', messages: [{ role: 'user', content: long }] })) as { messages: Array<{ content: string }> };
    const source = jsonSourceOf(body);
    expect(source?.asciiBytes).toBeUndefined();
    const token = source?.rawString(0, 'content', long);
    expect(source?.tokenOf(token!)).toBe(JSON.stringify(long));
  });

  it('keeps nothing for a long body whose message strings are all short', () => {
    const bytes = bodyOf({ model: 'kimi-k2-0905-preview', messages: [{ role: 'user', content: 'Hello' }], metadata: { pad: 'x'.repeat(SOURCE_KEPT_FROM) } });
    expect(bytes.length).toBeGreaterThanOrEqual(SOURCE_KEPT_FROM);
    expect(jsonSourceOf(parseJsonBody(bytes))).toBeUndefined();
    // Many short messages, long only together.
    const many = Array.from({ length: 200 }, () => ({ role: 'user', content: 'x'.repeat(RAW_STRING_FROM - 1) }));
    expect(jsonSourceOf(parseJsonBody(bodyOf({ model: 'm', messages: many })))).toBeUndefined();
  });

  it('is invisible to whatever reads the body as JSON, and no JSON text can name it', () => {
    const value = { model: 'kimi-k2-0905-preview', messages: [{ role: 'user', content: LONG }] };
    const body = parseJsonBody(bodyOf(value)) as Record<string, unknown>;
    expect(jsonSourceOf(body)).toBeDefined();
    expect(Object.keys(body)).toEqual(['model', 'messages']);
    const seen: string[] = [];
    for (const key in body) seen.push(key);
    expect(seen).toEqual(['model', 'messages']);
    expect(JSON.stringify(body)).toBe(JSON.stringify(value));
    expect({ ...body }).toEqual(value);
    // A client's key that spells the symbol's description is only a string key.
    const spoof = parseJsonBody(bodyOf({ 'moongate.jsonSource': { text: 'x' }, 'Symbol(moongate.jsonSource)': 1, messages: [] }));
    expect(jsonSourceOf(spoof)).toBeUndefined();
  });
});
