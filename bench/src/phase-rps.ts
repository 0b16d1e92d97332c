/** Figures 1 and 3: throughput at N connections, CPU per request. */
import { type Bench, fixed, load, log, noteErrors } from './bench-context.js';
import { ratioOf, type Pair, type Row } from './bench-report.js';
import type { LoadResult } from './child-messages.js';
import { sampleProcess, watchRss } from './process-sample.js';

export async function phaseRps(bench: Bench, rows: Row[], figures: Record<string, unknown>, notes: string[]): Promise<void> {
  const { settings } = bench;
  const out: Record<string, unknown> = {};
  const cpu: Record<string, Pair> = {};
  const rounds = settings.rounds;
  const roundMs = settings.durationMs / rounds;
  for (const stream of [false, true]) {
    const kind = stream ? 'stream' : 'non-stream';
    for (const target of [bench.bare, bench.moongate]) {
      if (settings.warmupMs === 0) break;
      log(`[rps] ${target.name}, ${kind}: warm-up ${settings.warmupMs / 1000} s`);
      await load(bench, target, { stream, connections: settings.connections, durationMs: settings.warmupMs });
    }
    // Short rounds, alternating which server goes first: a machine whose speed drifts
    // (a shared VM) slows both servers alike, so the ratio holds where one long run each would not.
    const measured: Record<string, Array<LoadResult & { cpuUs: number }>> = { moongate: [], 'bare proxy': [] };
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? [bench.bare, bench.moongate] : [bench.moongate, bench.bare];
      for (const target of order) {
        const before = await sampleProcess(target.pid);
        const watch = watchRss(target.pid, 250);
        const result = await load(bench, target, { stream, connections: settings.connections, durationMs: roundMs });
        const samples = await watch.stop();
        const after = await sampleProcess(target.pid);
        bench.peakRss.set(target.pid, Math.max(bench.peakRss.get(target.pid) ?? 0, ...samples.map((sample) => sample.rssBytes)));
        measured[target.name]?.push({ ...result, cpuUs: after.cpuUs - before.cpuUs });
        noteErrors(result, `${target.name} ${kind} throughput`, notes);
        log(`[rps] ${kind} round ${round + 1}/${rounds}, ${target.name}: ${result.rps.toFixed(0)} req/s, ${((after.cpuUs - before.cpuUs) / Math.max(1, result.requests)).toFixed(0)} µs CPU/request`);
      }
    }
    const m = combineRounds(measured.moongate ?? []);
    const b = combineRounds(measured['bare proxy'] ?? []);
    const roundRatios = (measured.moongate ?? []).map((round, i) => {
      const bare = measured['bare proxy']?.[i];
      return bare === undefined ? null : { rps: ratioOf(round.rps, bare.rps), cpu: ratioOf(round.cpuUs / round.requests, bare.cpuUs / bare.requests) };
    });
    const spread = (values: Array<number | null | undefined>): string => {
      const known = values.filter((value): value is number => typeof value === 'number');
      return known.length === 0 ? 'n/a' : `${Math.min(...known).toFixed(2)}x to ${Math.max(...known).toFixed(2)}x`;
    };
    if (rounds > 1) {
      notes.push(`${kind} rounds: req/s ratio ${spread(roundRatios.map((r) => r?.rps))}, CPU/request ratio ${spread(roundRatios.map((r) => r?.cpu))} (each of ${rounds} rounds of ${roundMs / 1000} s)`);
    }
    log(`  ${kind}: moongate ${m.rps.toFixed(0)} req/s, ${m.cpuUsPerRequest.toFixed(0)} µs CPU/request; bare proxy ${b.rps.toFixed(0)} req/s, ${b.cpuUsPerRequest.toFixed(0)} µs CPU/request`);
    out[stream ? 'stream' : 'nonStream'] = { moongate: m, bare: b, rounds: measured, roundRatios };
    const minRatio = stream ? 0.6 : 0.7;
    const rpsRatio = ratioOf(m.rps, b.rps);
    rows.push(
      { figure: `1. max req/s, ${kind}, ${settings.connections} conns`, unit: 'req/s', moongate: fixed(m.rps, 1), bare: fixed(b.rps, 1), ratio: rpsRatio, target: `>= ${minRatio.toFixed(2)}x`, pass: rpsRatio !== null && rpsRatio >= minRatio },
      { figure: `1. p50, ${kind}, ${settings.connections} conns`, unit: 'ms', moongate: fixed(m.p50Ms), bare: fixed(b.p50Ms), ratio: ratioOf(m.p50Ms, b.p50Ms), target: '', pass: null },
      { figure: `1. p99, ${kind}, ${settings.connections} conns`, unit: 'ms', moongate: fixed(m.p99Ms), bare: fixed(b.p99Ms), ratio: ratioOf(m.p99Ms, b.p99Ms), target: '', pass: null },
    );
    cpu[stream ? 'stream' : 'nonStream'] = { moongate: m.cpuUsPerRequest, bare: b.cpuUsPerRequest };
  }
  figures.throughput = out;
  figures.cpuUsPerRequest = cpu;
  for (const [key, pair] of Object.entries(cpu)) {
    const ratio = ratioOf(pair.moongate, pair.bare);
    rows.push({ figure: `3. CPU per request, ${key === 'stream' ? 'stream' : 'non-stream'}`, unit: 'µs', moongate: fixed(pair.moongate, 1), bare: fixed(pair.bare, 1), ratio, target: '<= 1.50x', pass: ratio !== null && ratio <= 1.5 });
  }
}

/**
 * One figure from several rounds: req/s and CPU/request from the totals (every request
 * counts once), p50 and p99 as the median of the rounds' own.
 */
function combineRounds(rounds: ReadonlyArray<LoadResult & { cpuUs: number }>) {
  const requests = rounds.reduce((sum, r) => sum + r.requests, 0);
  const seconds = rounds.reduce((sum, r) => sum + r.durationMs, 0) / 1000;
  const median = (values: number[]): number => {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? Number.NaN) + (sorted[mid] ?? Number.NaN)) / 2;
  };
  return {
    requests,
    errors: rounds.reduce((sum, r) => sum + r.errors, 0),
    rps: seconds === 0 ? Number.NaN : requests / seconds,
    p50Ms: median(rounds.map((r) => r.p50Ms)),
    p99Ms: median(rounds.map((r) => r.p99Ms)),
    cpuUsPerRequest: requests === 0 ? Number.NaN : rounds.reduce((sum, r) => sum + r.cpuUs, 0) / requests,
  };
}
