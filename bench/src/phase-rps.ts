/**
 * Figures 1 and 3: throughput at N connections, CPU per request, for moongate, the lean floor
 * and the bare proxy. Targets (issue 20), against the lean floor: req/s >= 0.5x, non-stream
 * and stream; CPU per request <= 2x. On the non-stream load the work floor (work-floor.ts)
 * and the plain gateway (plain-gateway.ts) take their turns in the same rounds, each reported
 * in a note without a verdict.
 */
import { type Bench, fixed, load, log, noteErrors, type Target } from './bench-context.js';
import { ratioOf, type Pair, type Row } from './bench-report.js';
import type { LoadResult } from './child-messages.js';
import { median } from './percentile.js';
import { sampleProcess, watchRss } from './process-sample.js';

export const RPS_TARGET = 0.5;
export const CPU_TARGET = 2;

type Measured = LoadResult & { cpuUs: number };
const digits = (unit: string): number => (unit === 'ms' ? 3 : 1);

export async function phaseRps(bench: Bench, rows: Row[], figures: Record<string, unknown>, notes: string[]): Promise<void> {
  const { settings } = bench;
  const out: Record<string, unknown> = {};
  const cpu: Record<string, Pair> = {};
  const rounds = settings.rounds;
  const roundMs = settings.durationMs / rounds;
  for (const stream of settings.rpsModes) {
    const kind = stream ? 'stream' : 'non-stream';
    // The work floor and the plain gateway answer non-stream requests only.
    const floorsOfWork = stream ? [] : [bench.work, bench.plain].filter((target): target is Target => target !== undefined);
    const targets: Target[] = [bench.floor, bench.bare, bench.moongate, ...floorsOfWork];
    for (const target of targets) {
      if (settings.warmupMs === 0) break;
      log(`[rps] ${target.name}, ${kind}: warm-up ${settings.warmupMs / 1000} s`);
      await load(bench, target, { stream, connections: settings.connections, durationMs: settings.warmupMs });
    }
    // Short rounds, rotating which server goes first: a machine whose speed drifts (a
    // shared VM) slows every server alike, so the ratio holds where one long run each would not.
    const measured: Record<string, Measured[]> = Object.fromEntries(targets.map((t) => [t.name, []]));
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? targets : [...targets].reverse();
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
    const f = combineRounds(measured['lean floor'] ?? []);
    const b = combineRounds(measured['bare proxy'] ?? []);
    const roundRatios = (measured.moongate ?? []).map((round, i) => {
      const floor = measured['lean floor']?.[i];
      return floor === undefined ? null : { rps: ratioOf(round.rps, floor.rps), cpu: ratioOf(round.cpuUs / round.requests, floor.cpuUs / floor.requests) };
    });
    const spread = (values: Array<number | null | undefined>): string => {
      const known = values.filter((value): value is number => typeof value === 'number');
      return known.length === 0 ? 'n/a' : `${Math.min(...known).toFixed(2)}x to ${Math.max(...known).toFixed(2)}x`;
    };
    if (rounds > 1) {
      notes.push(`${kind} rounds against the lean floor: req/s ratio ${spread(roundRatios.map((r) => r?.rps))}, CPU/request ratio ${spread(roundRatios.map((r) => r?.cpu))} (each of ${rounds} rounds of ${roundMs / 1000} s)`);
    }
    log(`  ${kind}: moongate ${m.rps.toFixed(0)} req/s, ${m.cpuUsPerRequest.toFixed(0)} µs CPU/request; lean floor ${f.rps.toFixed(0)} req/s, ${f.cpuUsPerRequest.toFixed(0)} µs; bare proxy ${b.rps.toFixed(0)} req/s, ${b.cpuUsPerRequest.toFixed(0)} µs`);
    const w = measured['work floor'] === undefined ? undefined : combineRounds(measured['work floor']);
    if (w !== undefined) {
      // No verdict: what the work itself costs against the lean floor, and what moongate adds to it.
      log(`  ${kind}: work floor ${w.rps.toFixed(0)} req/s, ${w.cpuUsPerRequest.toFixed(0)} µs CPU/request`);
      notes.push(
        `${kind} work floor (moongate's required steps with nothing between them, bench/src/work-floor.ts): ${w.rps.toFixed(0)} req/s and ${w.cpuUsPerRequest.toFixed(0)} µs CPU/request, ` +
          `${ratioOf(w.rps, f.rps)?.toFixed(2)}x the lean floor's req/s at ${ratioOf(w.cpuUsPerRequest, f.cpuUsPerRequest)?.toFixed(2)}x its CPU; ` +
          `moongate ${ratioOf(m.rps, w.rps)?.toFixed(2)}x the work floor's req/s at ${ratioOf(m.cpuUsPerRequest, w.cpuUsPerRequest)?.toFixed(2)}x its CPU`,
      );
    }
    const p = measured['plain gateway'] === undefined ? undefined : combineRounds(measured['plain gateway']);
    if (p !== undefined) {
      // No verdict either: what a gateway's duties cost written plainly, with no code of moongate's.
      log(`  ${kind}: plain gateway ${p.rps.toFixed(0)} req/s, ${p.cpuUsPerRequest.toFixed(0)} µs CPU/request`);
      notes.push(
        `${kind} plain gateway (a gateway's duties written plainly with no code of moongate's, bench/src/plain-gateway.ts): ${p.rps.toFixed(0)} req/s and ${p.cpuUsPerRequest.toFixed(0)} µs CPU/request, ` +
          `${ratioOf(p.rps, f.rps)?.toFixed(2)}x the lean floor's req/s at ${ratioOf(p.cpuUsPerRequest, f.cpuUsPerRequest)?.toFixed(2)}x its CPU; ` +
          `moongate ${ratioOf(m.rps, p.rps)?.toFixed(2)}x the plain gateway's req/s at ${ratioOf(m.cpuUsPerRequest, p.cpuUsPerRequest)?.toFixed(2)}x its CPU`,
      );
    }
    out[stream ? 'stream' : 'nonStream'] = {
      moongate: m,
      floor: f,
      bare: b,
      ...(w === undefined ? {} : { work: w }),
      ...(p === undefined ? {} : { plain: p }),
      rounds: measured,
      roundRatios,
    };
    const rpsRatio = ratioOf(m.rps, f.rps);
    const row = (figure: string, unit: string, pick: (r: ReturnType<typeof combineRounds>) => number, target = '', pass: boolean | null = null): Row => ({
      figure, unit, moongate: fixed(pick(m), digits(unit)), floor: fixed(pick(f), digits(unit)), bare: fixed(pick(b), digits(unit)), ratio: ratioOf(pick(m), pick(f)), target, pass,
    });
    rows.push(
      row(`1. max req/s, ${kind}, ${settings.connections} conns`, 'req/s', (r) => r.rps, `>= ${RPS_TARGET.toFixed(2)}x`, rpsRatio !== null && rpsRatio >= RPS_TARGET),
      row(`1. p50, ${kind}, ${settings.connections} conns`, 'ms', (r) => r.p50Ms),
      row(`1. p99, ${kind}, ${settings.connections} conns`, 'ms', (r) => r.p99Ms),
    );
    cpu[stream ? 'stream' : 'nonStream'] = { moongate: m.cpuUsPerRequest, floor: f.cpuUsPerRequest, bare: b.cpuUsPerRequest };
  }
  figures.throughput = out;
  figures.cpuUsPerRequest = cpu;
  for (const [key, pair] of Object.entries(cpu)) {
    const ratio = ratioOf(pair.moongate, pair.floor);
    rows.push({
      figure: `3. CPU per request, ${key === 'stream' ? 'stream' : 'non-stream'}`, unit: 'µs',
      moongate: fixed(pair.moongate, 1), floor: fixed(pair.floor, 1), bare: pair.bare === undefined ? null : fixed(pair.bare, 1),
      ratio, target: `<= ${CPU_TARGET.toFixed(2)}x`, pass: ratio !== null && ratio <= CPU_TARGET,
    });
  }
}

/**
 * One figure from several rounds: req/s and CPU/request from the totals (every request
 * counts once), p50 and p99 as the median of the rounds' own.
 */
function combineRounds(rounds: readonly Measured[]) {
  const requests = rounds.reduce((sum, r) => sum + r.requests, 0);
  const seconds = rounds.reduce((sum, r) => sum + r.durationMs, 0) / 1000;
  return {
    requests,
    errors: rounds.reduce((sum, r) => sum + r.errors, 0),
    rps: seconds === 0 ? Number.NaN : requests / seconds,
    p50Ms: median(rounds.map((r) => r.p50Ms)),
    p99Ms: median(rounds.map((r) => r.p99Ms)),
    cpuUsPerRequest: requests === 0 ? Number.NaN : rounds.reduce((sum, r) => sum + r.cpuUs, 0) / requests,
  };
}
