/**
 * Figure 2: added latency, one request at a time and at N connections. Target (issue 20):
 * moongate's added p50 one at a time (its p50 minus the upstream's own) <= 0.5 ms.
 *
 * One at a time, the servers are measured in alternating rounds (`--rounds`), the order
 * turned by one each round, and a server's added latency is the median over the rounds of
 * its p50 (p99) minus the upstream's in the same round. The machine's speed drifts by tens of
 * percent from one minute to the next: measured one after the other, a server measured in a
 * slow minute had the drift added to its latency (the added p50 of one build read 0.49 to
 * 0.80 ms in four runs within two hours).
 */
import { type Bench, fixed, load, log, noteErrors, type Target } from './bench-context.js';
import { ratioOf, type Pair, type Row } from './bench-report.js';
import type { LoadResult } from './child-messages.js';
import { median } from './percentile.js';

export const ADDED_P50_TARGET_MS = 0.5;

type Kind = 'nonStream' | 'stream';

export async function phaseLatency(bench: Bench, rows: Row[], figures: Record<string, unknown>, notes: string[]): Promise<void> {
  const { settings } = bench;
  const targets: Target[] = [bench.upstream, bench.floor, bench.bare, bench.moongate];
  const rounds = Math.max(1, settings.rounds);
  const perRound = Math.max(1, Math.ceil(settings.sequentialRequests / rounds));
  /** kind → server → its result in each round. */
  const sequential: Record<Kind, Record<string, LoadResult[]>> = { nonStream: {}, stream: {} };
  for (const stream of [false, true]) {
    const kind: Kind = stream ? 'stream' : 'nonStream';
    log(`[latency] ${stream ? 'stream (time to first byte)' : 'non-stream'}, one at a time: ${rounds} rounds of ${perRound} requests a server, in turn`);
    for (let round = 0; round < rounds; round++) {
      const order = targets.map((_, i) => targets[(i + round) % targets.length] as Target);
      for (const target of order) {
        const result = await load(bench, target, { stream, connections: 1, durationMs: 60_000, requests: perRound });
        noteErrors(result, `${target.name} sequential`, notes);
        (sequential[kind][target.name] ??= []).push(result);
      }
      log(`  round ${round + 1}/${rounds}: ${targets.map((t) => `${t.name} p50 ${(sequential[kind][t.name]?.[round]?.p50Ms ?? Number.NaN).toFixed(3)} ms`).join(', ')}`);
    }
  }
  const get = (kind: Kind, name: string): LoadResult[] => {
    const found = sequential[kind][name];
    if (found === undefined) throw new Error(`no ${kind} result for ${name}`);
    return found;
  };
  /** The median over the rounds of the server's figure minus the upstream's in the same round. */
  const addedBy = (kind: Kind, name: string, pick: (r: LoadResult) => number): number => {
    const upstream = get(kind, 'upstream');
    return median(get(kind, name).map((r, i) => pick(r) - pick(upstream[i] as LoadResult)));
  };
  const added = (kind: Kind, pick: (r: LoadResult) => number): Pair => ({
    moongate: addedBy(kind, 'moongate', pick),
    floor: addedBy(kind, 'lean floor', pick),
    bare: addedBy(kind, 'bare proxy', pick),
  });
  const addedP50 = added('nonStream', (r) => r.p50Ms);
  const addedP99 = added('nonStream', (r) => r.p99Ms);
  const ttfbP50 = added('stream', (r) => r.ttfbP50Ms ?? Number.NaN);
  const ttfbP99 = added('stream', (r) => r.ttfbP99Ms ?? Number.NaN);
  const row = (figure: string, pair: Pair, target = '', pass: boolean | null = null): Row => ({
    figure, unit: 'ms', moongate: fixed(pair.moongate), floor: fixed(pair.floor), bare: pair.bare === undefined ? null : fixed(pair.bare),
    ratio: ratioOf(pair.moongate, pair.floor), target, pass,
  });
  rows.push(
    row('2. added latency p50, one at a time', addedP50, `<= ${ADDED_P50_TARGET_MS} ms`, addedP50.moongate <= ADDED_P50_TARGET_MS),
    row('2. added latency p99, one at a time', addedP99),
    row('2. added time to first byte p50, stream', ttfbP50),
    row('2. added time to first byte p99, stream', ttfbP99),
  );

  // At N connections, at a fixed rate every server can carry, so the figure is latency, not
  // queueing. The bare proxy is left out here to keep the run short.
  const throughput = figures.throughput as { nonStream?: { moongate: { rps: number } } } | undefined;
  const moongateMax = throughput?.nonStream?.moongate.rps;
  const rate = Math.max(20, Math.round(moongateMax !== undefined ? moongateMax / 2 : settings.quick ? 100 : 300));
  const underLoad: Record<string, LoadResult> = {};
  for (const target of [bench.upstream, bench.floor, bench.moongate]) {
    log(`[latency] ${target.name}, non-stream, ${settings.connections} connections at ${rate} req/s: ${settings.durationMs / 1000} s`);
    const result = await load(bench, target, { stream: false, connections: settings.connections, durationMs: settings.durationMs, ratePerSecond: rate });
    noteErrors(result, `${target.name} at ${rate} req/s`, notes);
    underLoad[target.name] = result;
    log(`  p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms`);
  }
  const p99 = (name: string): number => underLoad[name]?.p99Ms ?? Number.NaN;
  const addedAtN: Pair = { moongate: p99('moongate') - p99('upstream'), floor: p99('lean floor') - p99('upstream') };
  rows.push(row(`2. added p99, ${settings.connections} conns at ${rate} req/s`, addedAtN));
  figures.latency = {
    sequential: { rounds, requestsPerRound: perRound, results: sequential },
    addedMs: { p50: addedP50, p99: addedP99, ttfbP50, ttfbP99 },
    underLoad: { connections: settings.connections, ratePerSecond: rate, results: underLoad, addedP99Ms: addedAtN },
  };
}
