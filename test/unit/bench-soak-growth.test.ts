/**
 * The soak's RSS growth (bench/src/phase-memory.ts): a sawtooth that comes back to the same
 * bottom is no growth, however its last tooth ends; a leak lifts the bottoms and reads as its
 * rate; with fewer than two full collections the floor's slope stays the (cautious) figure.
 */
import { describe, expect, it } from 'vitest';
import { soakGrowth, troughsOf } from '../../bench/src/phase-memory.js';

const MiB = 1024 * 1024;

/** Samples every 5 s for `seconds`: RSS climbs `climbPerSample` MiB a sample and drops back every `period` samples, its bottom rising `leakPerMinute`. */
function sawtooth(seconds: number, period: number, climbPerSample: number, leakPerMinute: number, base = 150): Array<{ atMs: number; rssBytes: number }> {
  const out: Array<{ atMs: number; rssBytes: number }> = [];
  for (let i = 0; i * 5 <= seconds; i++) {
    const atMs = i * 5000;
    out.push({ atMs, rssBytes: (base + (i % period) * climbPerSample + (leakPerMinute * atMs) / 60_000) * MiB });
  }
  return out;
}

describe('soak growth', () => {
  it('reads a bounded sawtooth as no growth, though its last tooth is climbing', () => {
    // 300 s, a full collection every 100 s, 20 MiB of garbage a tooth, ending mid-climb.
    const samples = sawtooth(295, 20, 1, 0);
    expect(troughsOf(samples).length).toBeGreaterThanOrEqual(2);
    const growth = soakGrowth(samples);
    expect(growth.method).toBe('troughs');
    expect(Math.abs(growth.miBPerMinute)).toBeLessThan(0.05);
  });

  it('reads a leak under the sawtooth as its rate', () => {
    const growth = soakGrowth(sawtooth(295, 20, 1, 3));
    expect(growth.method).toBe('troughs');
    expect(growth.miBPerMinute).toBeGreaterThan(2.5);
    expect(growth.miBPerMinute).toBeLessThan(3.5);
  });

  it('falls back to the floor, which reads a climb with no collection as growth', () => {
    const growth = soakGrowth(sawtooth(120, 1000, 0.5, 0));
    expect(growth.method).toBe('floor');
    expect(growth.troughs).toBe(0);
    // 0.5 MiB every 5 s is 6 MiB/min.
    expect(growth.miBPerMinute).toBeCloseTo(6, 5);
  });

  it('does not take noise for a full collection', () => {
    const samples = sawtooth(120, 1000, 0, 0).map((s, i) => ({ ...s, rssBytes: s.rssBytes + (i % 2 === 0 ? 0 : 2 * MiB) }));
    expect(troughsOf(samples)).toEqual([]);
  });
});
