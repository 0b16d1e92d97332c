/** Figure 5: memory idle, under load, after load; growth over a soak. */
import { type Bench, fixed, load, log, MiB, noteErrors } from './bench-context.js';
import { ratioOf, type Pair, type Row } from './bench-report.js';
import type { LoadResult } from './child-messages.js';
import { liveHeapBytes } from './live-heap.js';
import { sampleProcess, watchRss } from './process-sample.js';

/** One RSS sample of a soak, `atMs` after its start. */
type Sample = { atMs: number; rssBytes: number };

/** Each sample's RSS replaced by the lowest RSS from that sample to the end. */
function floorOf(samples: readonly Sample[]): Sample[] {
  const out = samples.map((sample) => ({ ...sample }));
  for (let i = out.length - 2; i >= 0; i--) {
    const later = out[i + 1];
    const here = out[i];
    if (here !== undefined && later !== undefined) here.rssBytes = Math.min(here.rssBytes, later.rssBytes);
  }
  return out;
}

/** A fall of RSS between two samples this large is a full collection handing pages back. */
const DROP_BYTES = 4 * MiB;

/**
 * The lowest RSS after each drop of at least DROP_BYTES, in order: where each tooth of the
 * sawtooth comes back down to. A leak lifts them; garbage waiting for its collection does not.
 */
export function troughsOf(samples: readonly Sample[]): Sample[] {
  const troughs: Sample[] = [];
  for (let i = 1; i < samples.length; i++) {
    const before = samples[i - 1];
    let here = samples[i];
    if (before === undefined || here === undefined || before.rssBytes - here.rssBytes < DROP_BYTES) continue;
    // Down to the bottom of this drop, however many samples it takes.
    while (i + 1 < samples.length && (samples[i + 1]?.rssBytes ?? Infinity) <= here.rssBytes) here = samples[++i] as Sample;
    troughs.push(here);
  }
  return troughs;
}

/**
 * RSS growth over a soak, in MiB per minute. With two full collections or more in it, the
 * slope through their troughs; with fewer, the slope of the floor (each sample's lowest RSS
 * from then to the end), which reads the last tooth's climb as growth, so it errs towards
 * reporting growth, never towards hiding it.
 */
export function soakGrowth(samples: readonly Sample[]): { miBPerMinute: number; method: 'troughs' | 'floor'; troughs: number } {
  const troughs = troughsOf(samples);
  if (troughs.length >= 2) return { miBPerMinute: growthMiBPerMinute(troughs), method: 'troughs', troughs: troughs.length };
  return { miBPerMinute: growthMiBPerMinute(floorOf(samples)), method: 'floor', troughs: troughs.length };
}

/** Least-squares slope of RSS over time, in MiB per minute. */
function growthMiBPerMinute(samples: readonly Sample[]): number {
  if (samples.length < 2) return Number.NaN;
  const xs = samples.map((s) => s.atMs / 60_000);
  const ys = samples.map((s) => s.rssBytes / MiB);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += ((xs[i] ?? 0) - mx) * ((ys[i] ?? 0) - my);
    den += ((xs[i] ?? 0) - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export async function phaseMemory(bench: Bench, idle: Map<number, number>, rows: Row[], figures: Record<string, unknown>, notes: string[]): Promise<void> {
  const { settings } = bench;
  const throughput = figures.throughput as { stream?: { moongate: LoadResult } } | undefined;
  const moongateStreamMax = throughput?.stream?.moongate.rps;
  // Both soaked at once, at a rate both carry easily: the figure is growth, not throughput.
  const rate = Math.max(20, Math.min(200, Math.round(moongateStreamMax !== undefined ? moongateStreamMax / 4 : settings.quick ? 50 : 200)));
  const heapBefore = await liveHeapBytes(await bench.moongateInspector());
  log(`[memory] moongate's live heap after a full collection: ${(heapBefore / MiB).toFixed(2)} MiB`);
  log(`[memory] soak: moongate and the lean floor at ${rate} stream req/s each for ${settings.soakMs / 1000} s`);
  const targets = [bench.moongate, bench.floor];
  const watches = targets.map((t) => watchRss(t.pid, settings.quick ? 250 : 5_000));
  const results = await Promise.all(
    targets.map((t) => load(bench, t, { stream: true, connections: settings.connections, durationMs: settings.soakMs, ratePerSecond: rate })),
  );
  const samples = await Promise.all(watches.map((w) => w.stop()));
  targets.forEach((t, i) => {
    const result = results[i];
    if (result !== undefined) noteErrors(result, `${t.name} soak`, notes);
    const peak = Math.max(...(samples[i] ?? []).map((s) => s.rssBytes));
    bench.peakRss.set(t.pid, Math.max(bench.peakRss.get(t.pid) ?? 0, peak));
  });
  // The first fifth is the heap finding its size; growth is what comes after. RSS under a
  // garbage-collected heap is a sawtooth: it climbs between full collections and drops at
  // each, so a straight line through the samples measures where the drops fell (a soak once
  // read -88 MiB/min with RSS flat for its last 70 s). Growth is the slope through the
  // bottoms of the teeth, what the process comes back down to: a leak lifts them, a
  // sawtooth does not. Until 2026-12-06 it was the slope of the floor (each sample's lowest
  // RSS from then to the end), which is that only when the soak ends on a drop: otherwise it
  // reads the last tooth's climb as growth (a 300 s soak whose peaks and troughs stayed within
  // 151 to 172 MiB read 6.35 MiB/min). The floor remains the figure when fewer than two full
  // collections fell inside the soak (docs/benchmark.md, "The figures").
  const steady = samples.map((list) => list.filter((s) => s.atMs >= settings.soakMs / 5));
  const soak = steady.map((list) => soakGrowth(list));
  const growth: Pair = { moongate: soak[0]?.miBPerMinute ?? Number.NaN, floor: soak[1]?.miBPerMinute ?? Number.NaN };
  const floorSlope: Pair = { moongate: growthMiBPerMinute(floorOf(steady[0] ?? [])), floor: growthMiBPerMinute(floorOf(steady[1] ?? [])) };
  log(
    `[memory] RSS growth over the soak: moongate ${growth.moongate.toFixed(2)} MiB/min (${soak[0]?.method}, ${soak[0]?.troughs} troughs), ` +
      `the lean floor ${growth.floor.toFixed(2)} (${soak[1]?.method}, ${soak[1]?.troughs} troughs); the floor's slope ${floorSlope.moongate.toFixed(2)} and ${floorSlope.floor.toFixed(2)}`,
  );
  const straightLine: Pair = { moongate: growthMiBPerMinute(steady[0] ?? []), floor: growthMiBPerMinute(steady[1] ?? []) };
  // What a leak keeps is still reachable after a full collection; a heap still settling at
  // its size after the earlier phases lifts the RSS floor for minutes, but not this.
  const heapAfter = await liveHeapBytes(await bench.moongateInspector());
  const soakRequests = results[0]?.requests ?? 0;
  const heapGrowth = ((heapAfter - heapBefore) / MiB) / (settings.soakMs / 60_000);
  log(
    `[memory] moongate's live heap after the soak: ${(heapAfter / MiB).toFixed(2)} MiB ` +
      `(${heapGrowth >= 0 ? '+' : ''}${heapGrowth.toFixed(2)} MiB/min, ${soakRequests} requests)`,
  );
  log(`[memory] waiting ${settings.afterLoadMs / 1000} s after load`);
  await new Promise((resolve) => setTimeout(resolve, settings.afterLoadMs));
  const after = await Promise.all(targets.map((t) => sampleProcess(t.pid)));
  const mib = (bytes: number | undefined): number => fixed((bytes ?? Number.NaN) / MiB, 1);
  const idlePair: Pair = { moongate: mib(idle.get(bench.moongate.pid)), floor: mib(idle.get(bench.floor.pid)) };
  const loadPair: Pair = { moongate: mib(bench.peakRss.get(bench.moongate.pid)), floor: mib(bench.peakRss.get(bench.floor.pid)) };
  const afterPair: Pair = { moongate: mib(after[0]?.rssBytes), floor: mib(after[1]?.rssBytes) };
  const row = (figure: string, pair: Pair, unit = 'MiB', target = '', pass: boolean | null = null): Row => ({
    figure, unit, moongate: pair.moongate, floor: pair.floor, bare: null, ratio: ratioOf(pair.moongate, pair.floor), target, pass,
  });
  rows.push(
    row('5. RSS idle', idlePair),
    row('5. RSS under load (peak)', loadPair),
    row(`5. RSS ${settings.afterLoadMs / 1000} s after load`, afterPair),
    row(`5. RSS growth over a ${settings.soakMs / 1000} s soak (between full collections)`, { moongate: fixed(growth.moongate), floor: fixed(growth.floor) }, 'MiB/min', '< 1 MiB/min', growth.moongate < 1),
    { figure: '5. live heap growth over the soak, after a full collection', unit: 'MiB/min', moongate: fixed(heapGrowth), floor: null, bare: null, ratio: null, target: '', pass: null },
  );
  figures.memory = {
    soakRatePerSecond: rate,
    idleMiB: idlePair,
    underLoadMiB: loadPair,
    afterLoadMiB: afterPair,
    growthMiBPerMin: growth,
    growthMethod: { moongate: soak[0]?.method ?? null, floor: soak[1]?.method ?? null },
    troughs: { moongate: soak[0]?.troughs ?? 0, floor: soak[1]?.troughs ?? 0 },
    floorSlopeMiBPerMin: floorSlope,
    straightLineSlopeMiBPerMin: straightLine,
    liveHeap: {
      beforeSoakMiB: fixed(heapBefore / MiB, 3),
      afterSoakMiB: fixed(heapAfter / MiB, 3),
      growthMiBPerMin: fixed(heapGrowth, 3),
      bytesPerRequest: soakRequests > 0 ? fixed((heapAfter - heapBefore) / soakRequests, 1) : null,
      soakRequests,
    },
    soakSamples: samples,
  };
}
