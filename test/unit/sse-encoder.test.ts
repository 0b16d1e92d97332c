import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  SSE_DONE,
  SSE_DONE_DATA,
  SseDecoder,
  encodeSseComment,
  encodeSseData,
  type SseEvent,
} from '../../src/sse/index.js';

function decode(text: string): SseEvent[] {
  const decoder = new SseDecoder();
  return [...decoder.push(new TextEncoder().encode(text)), ...decoder.end()];
}

describe('encodeSseData', () => {
  it('frames one line of data as `data: ...` and a blank line', () => {
    expect(encodeSseData('{"a":1}')).toBe('data: {"a":1}\n\n');
    expect(encodeSseData('')).toBe('data: \n\n');
  });

  it('sends text with line breaks as several data lines', () => {
    expect(encodeSseData('a\nb')).toBe('data: a\ndata: b\n\n');
    expect(encodeSseData('a\r\nb\rc\n')).toBe('data: a\ndata: b\ndata: c\ndata: \n\n');
  });

  it.each([
    '{"choices":[{"delta":{"content":"안녕하세요"}}]}',
    '',
    ' leading space',
    '  two leading spaces',
    'trailing newline\n',
    '\n\n',
    'data: looks like a field',
    ': looks like a comment',
    'event: not an event',
    'multi\nline\n\ntext 👋',
  ])('round-trips %j through the decoder', (text) => {
    expect(decode(encodeSseData(text))).toEqual([{ data: text }]);
  });

  it('turns CR and CRLF inside the text into LF on the way through', () => {
    expect(decode(encodeSseData('a\r\nb\rc'))).toEqual([{ data: 'a\nb\nc' }]);
  });

  it('re-encodes the decoded seed stream byte for byte', () => {
    const recording = readFileSync(new URL('../fixtures/seed-stream.sse', import.meta.url), 'utf8');
    const events = decode(recording);
    expect(events.length).toBe(18);
    const reencoded = events.map((event) => (event.data === SSE_DONE_DATA ? SSE_DONE : encodeSseData(event.data))).join('');
    expect(reencoded).toBe(recording);
  });
});

describe('SSE_DONE', () => {
  it('is the OpenAI terminator and decodes to SSE_DONE_DATA', () => {
    expect(SSE_DONE).toBe('data: [DONE]\n\n');
    expect(SSE_DONE).toBe(encodeSseData(SSE_DONE_DATA));
    expect(decode(SSE_DONE)).toEqual([{ data: '[DONE]' }]);
  });
});

describe('encodeSseComment', () => {
  it('frames a comment that every reader ignores', () => {
    expect(encodeSseComment('keep-alive')).toBe(': keep-alive\n\n');
    expect(decode(encodeSseComment('keep-alive'))).toEqual([]);
  });

  it('keeps a multi-line comment a comment', () => {
    expect(encodeSseComment('a\ndata: b')).toBe(': a\n: data: b\n\n');
    expect(decode(`${encodeSseComment('a\ndata: b')}${encodeSseData('x')}`)).toEqual([{ data: 'x' }]);
  });
});
