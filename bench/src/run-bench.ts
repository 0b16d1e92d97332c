/**
 * `npm run bench`: starts a fake upstream, the lean floor, the piping bare proxy and moongate
 * on loopback, each in its own process, drives them with a separate load generator, and
 * prints moongate's figures next to the lean floor's (the leanest correct Node proxy: every
 * ratio and target is against it, issue 20) and the bare proxy's, measured in the same run.
 * Writes bench/results/<date>.json and .md. See README, "Performance", and docs/benchmark.md.
 *
 * This file starts the processes and runs the phases in order; each phase is its own file
 * (phase-rps.ts, phase-latency.ts, phase-memory.ts, phase-streams.ts, phase-settle.ts,
 * phase-prompt.ts, phase-scale.ts),
 * the options are in bench-settings.ts, and what the phases share in bench-context.ts.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { type ChildOptions, forkBenchChild, nextMessage, stopChild } from './bench-child.js';
import { PLAIN_GATEWAY_TOKEN } from './child-messages.js';
import { type Bench, log, requestBody, type Target, upstreamStats } from './bench-context.js';
import { formatMarkdown, formatTable, type BenchReport, type Row } from './bench-report.js';
import { PHASES, parseSettings } from './bench-settings.js';
import { launcherNodeFlags, WORK_FLOOR, startMoongate, type MoongateProcess } from './moongate-process.js';
import { NodeLoaderClient } from './node-loader-client.js';
import { phaseLatency } from './phase-latency.js';
import { phaseMemory } from './phase-memory.js';
import { phasePrompt } from './phase-prompt.js';
import { phaseRps } from './phase-rps.js';
import { phaseScale } from './phase-scale.js';
import { phaseSettle } from './phase-settle.js';
import { fdLimit, phaseStreams } from './phase-streams.js';
import { sampleProcess } from './process-sample.js';
import { hasWrk, installWrk } from './wrk-load.js';

async function startServerChild(script: string, env: Record<string, string>, options: ChildOptions = {}): Promise<{ child: ChildProcess; port: number }> {
  const child = forkBenchChild(script, env, options);
  const ready = await nextMessage(child, 'ready', 15_000);
  return { child, port: ready.port };
}

async function checkPath(bench: Bench): Promise<void> {
  const before = (await upstreamStats(bench)).requests;
  // Each server with each mode it answers: the work floor answers non-stream requests only.
  const checks: Array<[Target, boolean]> = [bench.floor, bench.bare, bench.moongate].flatMap((target): Array<[Target, boolean]> => [
    [target, false],
    [target, true],
  ]);
  if (bench.work !== undefined) checks.push([bench.work, false]);
  if (bench.plain !== undefined) checks.push([bench.plain, false]);
  for (const [target, stream] of checks) {
    const response = await fetch(target.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...target.headers },
      body: requestBody(stream),
    });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`${target.name} answered ${response.status}: ${text.slice(0, 300)}`);
    if (stream && !text.endsWith('data: [DONE]\n\n')) throw new Error(`${target.name}'s stream did not end with [DONE]`);
    if (!stream && !text.includes('"chat.completion"')) throw new Error(`${target.name} answered no chat.completion: ${text.slice(0, 300)}`);
  }
  const reached = (await upstreamStats(bench)).requests - before;
  // At least the ones sent (a router may add probes of its own).
  if (reached < checks.length) throw new Error(`the fake upstream saw ${reached} of ${checks.length} requests: moongate is not using it (check the upstream line above)`);
}

async function main(): Promise<void> {
  const settings = parseSettings(process.argv.slice(2));
  const started = performance.now();
  // Other work on the machine skews every figure: the run says how busy it was.
  const loadAtStart = loadavg()[0] ?? Number.NaN;
  let useWrk = false;
  if (settings.loader !== 'node') {
    useWrk = hasWrk() || (!settings.quick && installWrk(log));
    if (!useWrk && settings.loader === 'wrk') throw new Error('--loader wrk: wrk is not installed and could not be');
  }
  const loaderName = useWrk ? 'wrk (throughput) and the built-in undici loader (latency, rates, streams)' : 'the built-in undici loader';
  log(`load generator: ${loaderName}`);
  const needed = Math.max(0, ...settings.streams) * 2 + 200;
  if (settings.phases.includes('streams') && fdLimit() < needed) {
    log(`warning: ulimit -n is ${fdLimit()}; holding ${Math.max(...settings.streams)} streams through moongate needs about ${needed} (raise it with ulimit -n)`);
  }

  const children: ChildProcess[] = [];
  const loader = new NodeLoaderClient();
  let moongate: MoongateProcess | undefined;
  let work: MoongateProcess | undefined;
  try {
    log('starting the fake upstream, the lean floor, the bare proxy, moongate, the work floor and the plain gateway...');
    const upstream = await startServerChild('fake-upstream.js', { BENCH_UPSTREAM_DELAY_MS: String(settings.delayMs) });
    children.push(upstream.child);
    const upstreamOrigin = `http://127.0.0.1:${upstream.port}`;
    // Started side by side: each is a cold Node start, and moongate's also runs the CLI first.
    const wantWork = settings.phases.includes('rps') && settings.rpsModes.includes(false);
    const [lean, bare, gate, floorOfWork, plainGateway] = await Promise.allSettled([
      startServerChild('lean-proxy.js', { BENCH_UPSTREAM_ORIGIN: upstreamOrigin }),
      startServerChild('bare-proxy.js', { BENCH_UPSTREAM_ORIGIN: upstreamOrigin }),
      startMoongate(`${upstreamOrigin}/v1`, log, {
        ...(settings.profile === undefined ? {} : { profileDir: settings.profile }),
        ...(settings.allocProfile === undefined ? {} : { allocDir: settings.allocProfile }),
        nodeFlags: settings.moongateNodeFlags,
      }),
      // The same node flags as moongate: the two differ in how the steps are put together, nothing else.
      wantWork ? startMoongate(`${upstreamOrigin}/v1`, log, { nodeFlags: settings.moongateNodeFlags, script: WORK_FLOOR }) : Promise.resolve(undefined),
      // moongate's node flags, and its access log to a pipe the harness drops, as moongate's is.
      wantWork
        ? startServerChild('plain-gateway.js', { BENCH_UPSTREAM_ORIGIN: upstreamOrigin }, { dropStdout: true, nodeFlags: [...(await launcherNodeFlags()), ...settings.moongateNodeFlags] })
        : Promise.resolve(undefined),
    ]);
    if (lean.status === 'fulfilled') children.push(lean.value.child);
    if (bare.status === 'fulfilled') children.push(bare.value.child);
    if (gate.status === 'fulfilled') moongate = gate.value;
    if (floorOfWork.status === 'fulfilled') work = floorOfWork.value;
    // The work floor is a measuring aid: without it the run goes on, and says so.
    else log(`warning: the work floor did not start, its figures are left out: ${String(floorOfWork.reason)}`);
    const plain = plainGateway.status === 'fulfilled' ? plainGateway.value : undefined;
    if (plain !== undefined) children.push(plain.child);
    else if (plainGateway.status === 'rejected') log(`warning: the plain gateway did not start, its figures are left out: ${String(plainGateway.reason)}`);
    if (lean.status === 'rejected') throw lean.reason;
    if (bare.status === 'rejected') throw bare.reason;
    if (gate.status === 'rejected' || moongate === undefined) throw gate.status === 'rejected' ? gate.reason : new Error('moongate did not start');
    for (const piece of moongate.pipeline) log(`  ${piece}`);
    const pidOf = (child: ChildProcess): number => {
      if (child.pid === undefined) throw new Error('a bench child has no pid');
      return child.pid;
    };
    const bench: Bench = {
      settings,
      useWrk,
      upstreamUrl: upstreamOrigin,
      moongate: { name: 'moongate', url: `${moongate.url}/v1/chat/completions`, pid: moongate.pid, headers: { authorization: `Bearer ${moongate.token}` } },
      floor: { name: 'lean floor', url: `http://127.0.0.1:${lean.value.port}/v1/chat/completions`, pid: pidOf(lean.value.child), headers: { authorization: 'Bearer bench' } },
      bare: { name: 'bare proxy', url: `http://127.0.0.1:${bare.value.port}/v1/chat/completions`, pid: pidOf(bare.value.child), headers: { authorization: 'Bearer bench' } },
      work: work === undefined ? undefined : { name: 'work floor', url: `${work.url}/v1/chat/completions`, pid: work.pid, headers: { authorization: `Bearer ${work.token}` } },
      plain:
        plain === undefined
          ? undefined
          : { name: 'plain gateway', url: `http://127.0.0.1:${plain.port}/v1/chat/completions`, pid: pidOf(plain.child), headers: { authorization: `Bearer ${PLAIN_GATEWAY_TOKEN}` } },
      upstream: { name: 'upstream', url: `${upstreamOrigin}/v1/chat/completions`, pid: pidOf(upstream.child), headers: { authorization: 'Bearer bench' } },
      peakRss: new Map(),
      loader,
      moongateInspector: moongate.inspector,
    };
    await checkPath(bench);
    await new Promise((resolve) => setTimeout(resolve, settings.quick ? 200 : 1_000));
    const idle = new Map<number, number>();
    for (const target of [bench.moongate, bench.floor, bench.bare]) idle.set(target.pid, (await sampleProcess(target.pid)).rssBytes);

    const rows: Row[] = [];
    const figures: Record<string, unknown> = {};
    const notes: string[] = [];
    for (const phase of PHASES.filter((p) => settings.phases.includes(p))) {
      if (phase === 'rps') await phaseRps(bench, rows, figures, notes);
      else if (phase === 'latency') await phaseLatency(bench, rows, figures, notes);
      else if (phase === 'streams') await phaseStreams(bench, rows, figures, notes);
      else if (phase === 'memory') await phaseMemory(bench, idle, rows, figures, notes);
      else if (phase === 'prompt') await phasePrompt(bench, rows, figures, notes);
      else if (phase === 'settle') await phaseSettle(rows, figures, notes, settings.quick);
      else await phaseScale(bench, rows, figures, notes);
    }

    // By figure number, whatever order the phases ran in.
    rows.sort((a, b) => Number.parseInt(a.figure, 10) - Number.parseInt(b.figure, 10));
    const cpuModel = cpus()[0]?.model.trim() ?? 'unknown CPU';
    const date = new Date().toISOString();
    const report: BenchReport = {
      date,
      machine: {
        cpus: cpus().length,
        cpuModel,
        node: process.version,
        loader: loaderName,
        note: 'The load generator, the fake upstream and the server under test share these cores; figures are from one run, loopback only.',
        loadAverage: `${loadAtStart.toFixed(1)} at the start, ${(loadavg()[0] ?? Number.NaN).toFixed(1)} at the end (1-minute load average, ${cpus().length} cores)`,
      },
      settings: { ...settings, out: undefined, profile: undefined, allocProfile: undefined },
      pipeline: moongate.pipeline,
      figures,
      rows,
      notes,
    };
    await mkdir(settings.out, { recursive: true });
    const stem = join(settings.out, date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z'));
    await writeFile(`${stem}.json`, `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(`${stem}.md`, formatMarkdown(report));
    console.log(`\n${formatTable(rows)}\n`);
    for (const note of notes) console.log(`note: ${note}`);
    console.log(`results: ${stem}.json and .md (${((performance.now() - started) / 1000).toFixed(0)} s)`);
  } finally {
    await loader.close();
    await moongate?.stop();
    await work?.stop();
    for (const child of children.reverse()) await stopChild(child);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
