import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SseDecoder, decodeSse, type SseEvent } from '../../src/sse/index.js';

const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`../fixtures/${name}`, import.meta.url)));
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

function decodeChunks(chunks: readonly Uint8Array[]): SseEvent[] {
  const decoder = new SseDecoder();
  const events: SseEvent[] = [];
  for (const chunk of chunks) events.push(...decoder.push(chunk));
  events.push(...decoder.end());
  return events;
}

function decodeText(...pieces: string[]): SseEvent[] {
  return decodeChunks(pieces.map(utf8));
}

/** mulberry32: a small seeded PRNG, so the random chunkings are the same on every run. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomChunking(bytes: Uint8Array, random: () => number, maxSize: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    const size = 1 + Math.floor(random() * maxSize);
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

/** Rewrites every LF of a recording (there are none inside its JSON) as another line ending. */
function withLineEnding(bytes: Uint8Array, ending: '\r\n' | '\r'): Uint8Array {
  return utf8(new TextDecoder().decode(bytes).replaceAll('\n', ending));
}

/**
 * The recordings put each event on one `data:` line followed by a blank line, so an
 * independent reading is a plain split; the decoder must agree with it.
 */
function naiveDataLines(bytes: Uint8Array): string[] {
  return new TextDecoder()
    .decode(bytes)
    .split('\n\n')
    .filter((block) => block !== '')
    .map((block) => {
      expect(block.startsWith('data: ')).toBe(true);
      return block.slice('data: '.length);
    });
}

const recordings = {
  'the seed stream (Korean, multi-byte UTF-8)': fixture('seed-stream.sse'),
  'a Moonshot stream (reasoning_content, emoji, CJK)': fixture('moonshot/thinking-stream.sse'),
};

describe.each(Object.entries(recordings))('SseDecoder on %s', (_name, recording) => {
  const whole = decodeChunks([recording]);

  it('decodes every event of the unsplit recording', () => {
    expect(whole.map((event) => event.data)).toEqual(naiveDataLines(recording));
    expect(whole.at(-1)).toEqual({ data: '[DONE]' });
    for (const event of whole.slice(0, -1)) expect(() => JSON.parse(event.data) as unknown).not.toThrow();
  });

  it('decodes the same events when split in two at every byte boundary', () => {
    for (let i = 0; i <= recording.length; i++) {
      const events = decodeChunks([recording.subarray(0, i), recording.subarray(i)]);
      if (JSON.stringify(events) !== JSON.stringify(whole)) expect(events, `split at byte ${i}`).toEqual(whole);
    }
  });

  it('decodes the same events when fed one byte at a time', () => {
    const bytes = Array.from({ length: recording.length }, (_, i) => recording.subarray(i, i + 1));
    expect(decodeChunks(bytes)).toEqual(whole);
  });

  it('decodes the same events under 300 random chunkings (fixed seed)', () => {
    const random = seededRandom(0x5eed);
    for (let run = 0; run < 300; run++) {
      const chunks = randomChunking(recording, random, run % 2 === 0 ? 7 : 257);
      const events = decodeChunks(chunks);
      if (JSON.stringify(events) !== JSON.stringify(whole)) expect(events, `random run ${run}`).toEqual(whole);
    }
  });

  it.each(['\r\n', '\r'] as const)('decodes the same events with %j line endings, split at every byte boundary', (ending) => {
    const converted = withLineEnding(recording, ending);
    expect(decodeChunks([converted])).toEqual(whole);
    for (let i = 0; i <= converted.length; i++) {
      const events = decodeChunks([converted.subarray(0, i), converted.subarray(i)]);
      if (JSON.stringify(events) !== JSON.stringify(whole)) expect(events, `split at byte ${i}`).toEqual(whole);
    }
  });

  it('decodeSse yields the same events from an async iterable of chunks', async () => {
    async function* body(): AsyncGenerator<Uint8Array> {
      const random = seededRandom(42);
      for (const chunk of randomChunking(recording, random, 31)) yield chunk;
    }
    const events: SseEvent[] = [];
    for await (const event of decodeSse(body())) events.push(event);
    expect(events).toEqual(whole);
  });
});

describe('SseDecoder framing (WHATWG event stream rules)', () => {
  it('joins multi-line data with LF', () => {
    expect(decodeText('data: line one\ndata: line two\ndata:\ndata: four\n\n')).toEqual([
      { data: 'line one\nline two\n\nfour' },
    ]);
  });

  it('strips exactly one space after the colon, and takes a line without a colon as a field name', () => {
    expect(decodeText('data:no space\n\ndata:  two spaces\n\ndata\n\n')).toEqual([
      { data: 'no space' },
      { data: ' two spaces' },
      { data: '' },
    ]);
  });

  it('ignores comment lines, also between data lines, and comment-only blocks', () => {
    expect(decodeText(': keep-alive\n\ndata: a\n: note\ndata: b\n\n:\n\n')).toEqual([{ data: 'a\nb' }]);
  });

  it('reads event, id and retry fields and does not carry them into the next event', () => {
    expect(decodeText('event: error\nid: 42\nretry: 3000\ndata: {}\n\ndata: next\n\n')).toEqual([
      { event: 'error', id: '42', retry: 3000, data: '{}' },
      { data: 'next' },
    ]);
  });

  it('ignores a retry that is not all digits, an id containing NULL and unknown fields', () => {
    expect(decodeText('retry: 10s\nid: a\u0000b\nfoo: bar\ndata: x\n\n')).toEqual([{ data: 'x' }]);
  });

  it('does not dispatch a block without data', () => {
    expect(decodeText('event: ping\n\nid: 7\n\n')).toEqual([]);
  });

  it('ignores extra blank lines between events', () => {
    expect(decodeText('\n\n\ndata: a\n\n\n\ndata: b\n\n\n')).toEqual([{ data: 'a' }, { data: 'b' }]);
  });

  it('takes a CR at the end of one chunk and an LF at the start of the next as one line ending', () => {
    expect(decodeText('data: a\r', '\ndata: b\r', '\n\r', '\n')).toEqual([{ data: 'a\nb' }]);
  });

  it('keeps a trailing CR pending across a chunk that decodes to no text', () => {
    const decoder = new SseDecoder();
    const events = [
      ...decoder.push(utf8('data: a\r')),
      ...decoder.push(new Uint8Array(0)),
      ...decoder.push(utf8('\ndata: b\n\n')),
      ...decoder.end(),
    ];
    expect(events).toEqual([{ data: 'a\nb' }]);
  });

  it('takes a CR followed by another character as a line ending', () => {
    expect(decodeText('data: a\rdata: b\r\rdata: c\r\n\r\n')).toEqual([{ data: 'a\nb' }, { data: 'c' }]);
  });

  it('strips a UTF-8 BOM at the start of the stream, also when its bytes are split', () => {
    expect(decodeText('\uFEFFdata: x\n\n')).toEqual([{ data: 'x' }]);
    const bytes = utf8('\uFEFFdata: y\n\n');
    expect(decodeChunks([bytes.subarray(0, 1), bytes.subarray(1, 2), bytes.subarray(2)])).toEqual([{ data: 'y' }]);
  });

  it('keeps a BOM that is not at the start of the stream', () => {
    expect(decodeText('data: a\n\n', 'data: \uFEFFb\n\n')).toEqual([{ data: 'a' }, { data: '\uFEFFb' }]);
  });

  it('decodes a character whose bytes arrive in three chunks', () => {
    const bytes = utf8('data: 한\n\n');
    const at = 'data: '.length;
    const pieces = [bytes.subarray(0, at + 1), bytes.subarray(at + 1, at + 2), bytes.subarray(at + 2)];
    expect(decodeChunks(pieces)).toEqual([{ data: '한' }]);
  });

  it('replaces invalid UTF-8 with U+FFFD instead of throwing', () => {
    const bytes = new Uint8Array([...utf8('data: a'), 0xff, ...utf8('b\n\n')]);
    expect(decodeChunks([bytes])).toEqual([{ data: 'a\uFFFDb' }]);
  });

  it('decodes invalid and cut-off UTF-8 as the WHATWG decoder does, split at every pair of byte boundaries', () => {
    // A 4-byte character, then sequences that look like the start of one and are not
    // (a lead byte before ASCII, an overlong E0 80, a stray continuation byte, C0), then a
    // character cut off by the end of the stream.
    const bytes = new Uint8Array([
      ...utf8('data: \u{1F600}'),
      0xf0, 0x9f, 0x41, 0xe0, 0x80, 0x42, 0x80, 0xc0, 0x43, 0xed, 0xa0, 0x80,
      ...utf8('\n\ndata: z'),
      0xe2, 0x82,
    ]);
    const text = new TextDecoder().decode(bytes);
    const expected = [{ data: text.slice('data: '.length, text.indexOf('\n')) }, { data: 'z\uFFFD' }];
    expect(expected[0]?.data).toContain('\uFFFD');
    for (let i = 0; i <= bytes.length; i++) {
      for (let j = i; j <= bytes.length; j++) {
        expect(decodeChunks([bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)])).toEqual(expected);
      }
    }
  });

  it('dispatches a final event not followed by a blank line when the stream ends', () => {
    expect(decodeText('data: a\n\ndata: [DONE]\n')).toEqual([{ data: 'a' }, { data: '[DONE]' }]);
    expect(decodeText('data: a\n\ndata: [DONE]')).toEqual([{ data: 'a' }, { data: '[DONE]' }]);
    expect(decodeText('data: a\r\n\r\ndata: [DONE]\r')).toEqual([{ data: 'a' }, { data: '[DONE]' }]);
  });

  it('returns events only once they are complete', () => {
    const decoder = new SseDecoder();
    expect(decoder.push(utf8('data: a\n'))).toEqual([]);
    expect(decoder.push(utf8('\ndata: b'))).toEqual([{ data: 'a' }]);
    expect(decoder.push(utf8('\n'))).toEqual([]);
    expect(decoder.push(utf8('\n'))).toEqual([{ data: 'b' }]);
    expect(decoder.end()).toEqual([]);
  });

  it('can decode a new stream after end()', () => {
    const decoder = new SseDecoder();
    expect([...decoder.push(utf8('data: one')), ...decoder.end()]).toEqual([{ data: 'one' }]);
    expect([...decoder.push(utf8('\uFEFFdata: two\n\n')), ...decoder.end()]).toEqual([{ data: 'two' }]);
  });

  it('stays linear on a long line fed one byte at a time', () => {
    const long = 'x'.repeat(200_000);
    const bytes = utf8(`data: ${long}\n\n`);
    const decoder = new SseDecoder();
    const events: SseEvent[] = [];
    for (let i = 0; i < bytes.length; i++) events.push(...decoder.push(bytes.subarray(i, i + 1)));
    expect(events).toEqual([{ data: long }]);
  });
});
