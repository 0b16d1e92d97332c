/**
 * The sliding window's log (limits/time-ring.ts): a ring that only grows. Held against a
 * plain array used the same way (push, shift), through wrap-arounds and growth.
 */
import { describe, expect, it } from 'vitest';
import { TimeRing } from '../../src/limits/time-ring.js';

describe('TimeRing', () => {
  it('keeps the times in order through wrap-arounds and growth, as an array with push and shift would', () => {
    const ring = new TimeRing();
    const array: number[] = [];
    let time = 0;
    // Windows that grow past the first room (8), shrink, and wrap many times.
    for (let step = 0; step < 5_000; step++) {
      const adds = (step * 7) % 13;
      for (let i = 0; i < adds; i++) {
        time += 1 + (step % 3);
        ring.push(time);
        array.push(time);
      }
      const cutoff = time - ((step * 11) % 60);
      ring.dropThrough(cutoff);
      while (array.length > 0 && (array[0] as number) <= cutoff) array.shift();
      expect(ring.length).toBe(array.length);
      expect(ring.last()).toBe(array.at(-1));
      for (const index of [0, array.length >> 1, array.length - 1, array.length - 13]) expect(ring.at(index)).toBe(array[index]);
    }
  });

  it('answers undefined past either end, and when empty', () => {
    const ring = new TimeRing();
    expect(ring.last()).toBeUndefined();
    expect(ring.at(0)).toBeUndefined();
    ring.push(5);
    expect(ring.at(-1)).toBeUndefined();
    expect(ring.at(1)).toBeUndefined();
    expect(ring.at(0)).toBe(5);
    ring.dropThrough(5);
    expect(ring.length).toBe(0);
    expect(ring.last()).toBeUndefined();
  });
});
