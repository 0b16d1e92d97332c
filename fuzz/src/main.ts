/**
 * `npm run fuzz`: starts its own moongate (compiled, port 0, temp DATA_DIR, simulator at full
 * speed), sends it --requests seeded hostile requests (default 100,000) and checks every
 * answer (run-fuzz.ts). Then the timing checks that tests may not make: /healthz latency and
 * the server's own event-loop delay (its /metrics) while single 1 MiB-word requests run, and
 * the server's RSS back near where it started. One summary line; exit 1 on any failure.
 *
 *   npm run fuzz -- --requests 20000 --seed 7
 *
 * Memory: the live heap after a full collection (over the V8 inspector, as the bench reads
 * it) must come back within --heap-growth-mb of its start, RSS within --rss-growth-mb.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { heavyBodies } from './fuzz-cases.js';
import { startFuzzTarget, type FuzzTarget } from './moongate-server.js';
import { runFuzz } from './run-fuzz.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '100000' },
    seed: { type: 'string', default: '15' },
    concurrency: { type: 'string', default: '8' },
    'healthz-max-ms': { type: 'string', default: '2000' },
    'rss-growth-mb': { type: 'string', default: '192' },
    'heap-growth-mb': { type: 'string', default: '32' },
  },
});

const MB = 1024 * 1024;

async function metric(target: FuzzTarget, name: string): Promise<number | undefined> {
  const res = await fetch(`${target.url}/metrics`, { headers: { authorization: `Bearer ${target.metricsToken}` } });
  const text = await res.text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

/** Sends each heavy body alone and polls /healthz until it is answered; the slowest /healthz, in ms. */
async function heavyPhase(target: FuzzTarget, token: string, failures: string[]): Promise<number> {
  let slowest = 0;
  for (const { field, body } of heavyBodies()) {
    let done = false;
    const heavy = fetch(`${target.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body,
      signal: AbortSignal.timeout(60_000),
    })
      .then(async (res) => {
        await res.arrayBuffer();
        if (res.status >= 500) failures.push(`heavy ${field}: ${res.status}`);
      })
      .catch((error: unknown) => failures.push(`heavy ${field}: ${String(error)}`))
      .finally(() => (done = true));
    while (!done) {
      const started = performance.now();
      const res = await fetch(`${target.url}/healthz`, { signal: AbortSignal.timeout(60_000) }).catch(() => undefined);
      await res?.arrayBuffer();
      if (res?.status !== 200) failures.push(`/healthz during heavy ${field}: ${res?.status ?? 'no answer'}`);
      slowest = Math.max(slowest, performance.now() - started);
    }
    await heavy;
  }
  return slowest;
}

async function main(): Promise<number> {
  const started = performance.now();
  const requests = Number(values.requests);
  const seed = Number(values.seed);
  const target = await startFuzzTarget();
  const failures: string[] = [];
  let summary: string;
  try {
    await sleep(500);
    const heapStart = await target.liveHeap();
    const rssStart = (await target.rss()) ?? 0;
    const report = await runFuzz({ port: target.port, seed, requests, concurrency: Number(values.concurrency), token: target.token, metricsToken: target.metricsToken });
    for (const failure of report.failures) failures.push(`case ${failure.index} (${failure.family}): ${failure.problem}`);
    if (!target.alive()) failures.push('moongate exited during the run');

    await metric(target, 'moongate_nodejs_eventloop_lag_max_seconds'); // resets the delay histogram
    const healthzMs = await heavyPhase(target, target.token, failures);
    const lagMs = ((await metric(target, 'moongate_nodejs_eventloop_lag_max_seconds')) ?? 0) * 1000;
    const healthzBound = Number(values['healthz-max-ms']);
    if (healthzMs > healthzBound) failures.push(`/healthz took ${healthzMs.toFixed(0)} ms during a heavy request (bound ${healthzBound} ms)`);
    if (lagMs > healthzBound) failures.push(`moongate's event loop stalled ${lagMs.toFixed(0)} ms (bound ${healthzBound} ms)`);

    // What a leak would keep: the live heap after a full collection.
    const heapEnd = await target.liveHeap();
    if (heapEnd > heapStart + Number(values['heap-growth-mb']) * MB) {
      failures.push(`live heap ${(heapEnd / MB).toFixed(0)} MB after the run, ${(heapStart / MB).toFixed(0)} MB at the start`);
    }
    // RSS falls back as V8 returns pages; give it a few seconds of quiet.
    const rssBound = rssStart + Number(values['rss-growth-mb']) * MB;
    let rssEnd = (await target.rss()) ?? 0;
    for (let i = 0; i < 20 && rssEnd > rssBound; i++) {
      await sleep(500);
      rssEnd = (await target.rss()) ?? 0;
    }
    if (rssEnd > rssBound) failures.push(`RSS ${(rssEnd / MB).toFixed(0)} MB after the run, ${(rssStart / MB).toFixed(0)} MB at the start`);

    const statuses = Object.entries(report.byStatus).map(([status, count]) => `${status}:${count}`).join(' ');
    summary =
      `fuzz seed=${seed} requests=${report.requests} cases=${report.cases} answers=${report.answers} failures=${failures.length} ` +
      `healthz_max=${healthzMs.toFixed(0)}ms loop_lag_max=${lagMs.toFixed(0)}ms heap=${(heapStart / MB).toFixed(0)}->${(heapEnd / MB).toFixed(0)}MB rss=${(rssStart / MB).toFixed(0)}->${(rssEnd / MB).toFixed(0)}MB ` +
      `time=${((performance.now() - started) / 1000).toFixed(1)}s statuses=[${statuses}] ${failures.length === 0 ? 'OK' : 'FAILED'}`;
  } finally {
    await target.stop();
  }
  for (const failure of failures.slice(0, 20)) console.error(failure);
  console.log(summary);
  return failures.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
