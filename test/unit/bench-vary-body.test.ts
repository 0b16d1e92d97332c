/**
 * The prompt phase's cold case (bench/src/vary-body.ts): every request's body must be new to
 * moongate's count cache yet the same size as the warm one, or the cold row would measure a
 * different prompt, or the warm case again.
 */
import { describe, expect, it } from 'vitest';
import { requestBody } from '../../bench/src/bench-context.js';
import { promptWithMarker, VARY_MARKER } from '../../bench/src/phase-prompt.js';
import { bodyMaker } from '../../bench/src/vary-body.js';
import { TextCountCache } from '../../src/tokens/count-cache.js';

function contentOf(body: string): string {
  const parsed = JSON.parse(body) as { messages: Array<{ content: string }> };
  return parsed.messages[0]?.content ?? '';
}

describe('bodyMaker', () => {
  const body = requestBody(false, promptWithMarker(100 * 1024));

  it('makes the prompt the size asked for, starting with the marker', () => {
    const prompt = promptWithMarker(100 * 1024);
    expect(Buffer.byteLength(prompt)).toBe(100 * 1024);
    expect(prompt.startsWith(`${VARY_MARKER} `)).toBe(true);
  });

  it('gives every cold request a different body of the same size, differing only at the marker', () => {
    const next = bodyMaker(body, VARY_MARKER);
    const bodies = Array.from({ length: 50 }, next);
    expect(new Set(bodies).size).toBe(50);
    const tail = contentOf(body).slice(VARY_MARKER.length);
    for (const made of bodies) {
      expect(made.length).toBe(body.length);
      expect(made).not.toContain(VARY_MARKER);
      expect(contentOf(made).slice(VARY_MARKER.length)).toBe(tail);
    }
  });

  it('sends the same body every time without a marker', () => {
    const next = bodyMaker(body);
    expect([next(), next()]).toEqual([body, body]);
  });

  it('refuses a marker that is not in the body', () => {
    expect(() => bodyMaker('{"messages":[]}', VARY_MARKER)).toThrow(/not in the body/);
  });

  it('defeats the count cache when cold and hits it when warm', () => {
    let counted = 0;
    const cache = new TextCountCache((text) => {
      counted++;
      return text.length;
    });
    const cold = bodyMaker(body, VARY_MARKER);
    for (let i = 0; i < 20; i++) cache.count(contentOf(cold()));
    expect(cache.stats()).toMatchObject({ hits: 0, misses: 20 });
    const warm = bodyMaker(body);
    for (let i = 0; i < 20; i++) cache.count(contentOf(warm()));
    expect(cache.stats()).toMatchObject({ hits: 19, misses: 21 });
    expect(counted).toBe(21);
  });
});
