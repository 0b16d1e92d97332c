/**
 * The built-in load generator, run as its own process (so its CPU is not the target's):
 * undici over a fixed number of keep-alive connections. It is what the harness uses where
 * wrk is missing, and always for what wrk cannot measure: one request at a time with time
 * to first byte, and a fixed request rate (latency counted from when each request was due,
 * so a slow server cannot hide its queueing).
 *
 * One process serves the whole run: each `load` message over IPC starts a job (jobs may run
 * at once, as in the soak) and its LoadResult goes back with the job's id.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import type { LoadJob, LoadResult } from './child-messages.js';
import { percentile } from './percentile.js';
import { bodyMaker } from './vary-body.js';

export interface NodeLoadSettings {
  url: string;
  /** More servers of the same path: requests alternate over url and these (a trivial round-robin balancer). */
  alsoUrls?: string[];
  body: string;
  headers: Record<string, string>;
  connections: number;
  /** Stop after this long, or after `requests`, whichever comes first. */
  durationMs: number;
  requests?: number;
  /** Open loop at this many requests per second; closed loop (as fast as answered) when absent. */
  ratePerSecond?: number;
  /** The response is SSE: it must end with [DONE], and time to first byte is measured. */
  stream: boolean;
  /**
   * Every request's body made different, at the same size: the first `varyMarker` in `body`
   * is replaced by a stamp of the same length that no other request of this process has
   * sent (the prompt phase's cold case, where nothing can be remembered from before).
   */
  varyMarker?: string;
}

async function runJob(settings: NodeLoadSettings): Promise<Omit<LoadResult, 'id'>> {
  const target = new URL(settings.url);
  const pools = [settings.url, ...(settings.alsoUrls ?? [])].map(
    (url) => new Pool(new URL(url).origin, { connections: settings.connections, pipelining: 1, keepAliveTimeout: 60_000 }),
  );
  let turn = 0;
  const latencies: number[] = [];
  const ttfbs: number[] = [];
  let errors = 0;
  let sent = 0;
  const nextBody = bodyMaker(settings.body, settings.varyMarker);

  const one = async (dueAt: number): Promise<void> => {
    try {
      const pool = pools[turn++ % pools.length] as Pool;
      const response = await pool.request({
        method: 'POST',
        path: target.pathname,
        headers: settings.headers,
        body: nextBody(),
      });
      let first = true;
      let tail = '';
      for await (const part of response.body) {
        if (first) {
          first = false;
          if (settings.stream) ttfbs.push(performance.now() - dueAt);
        }
        if (settings.stream) tail = (tail + (part as Buffer).toString('latin1')).slice(-32);
      }
      const complete = !settings.stream || tail.endsWith('data: [DONE]\n\n');
      if (response.statusCode < 200 || response.statusCode > 299 || !complete) errors++;
      else latencies.push(performance.now() - dueAt);
    } catch {
      errors++;
    }
  };

  const closedLoop = async (deadline: number, limit: number): Promise<void> => {
    const worker = async (): Promise<void> => {
      while (performance.now() < deadline && sent < limit) {
        sent++;
        await one(performance.now());
      }
    };
    await Promise.all(Array.from({ length: settings.connections }, worker));
  };

  const openLoop = async (deadline: number, limit: number, rate: number): Promise<void> => {
    const started = performance.now();
    const pending = new Set<Promise<void>>();
    while (performance.now() < deadline && sent < limit) {
      const due = started + (sent * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      sent++;
      // Timed from when it was due (a late send counts against the server, not hidden by the
      // loader), or from when it went out if that was earlier: a request less than 1 ms from
      // due is sent at once, and a timer may fire before its due time, so timing an early send
      // from its due time read as zero or negative latency.
      const request = one(Math.min(due, performance.now())).finally(() => pending.delete(request));
      pending.add(request);
    }
    await Promise.all(pending);
  };

  const startedAt = performance.now();
  const deadline = startedAt + settings.durationMs;
  const limit = settings.requests ?? Number.POSITIVE_INFINITY;
  if (settings.ratePerSecond === undefined) await closedLoop(deadline, limit);
  else await openLoop(deadline, limit, settings.ratePerSecond);
  const durationMs = performance.now() - startedAt;
  await Promise.all(pools.map((pool) => pool.close()));

  latencies.sort((a, b) => a - b);
  ttfbs.sort((a, b) => a - b);
  return {
    type: 'load-result',
    requests: latencies.length,
    errors,
    durationMs,
    rps: (latencies.length * 1000) / durationMs,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    ttfbP50Ms: settings.stream ? percentile(ttfbs, 50) : null,
    ttfbP99Ms: settings.stream ? percentile(ttfbs, 99) : null,
  };
}

process.on('message', (message: LoadJob) => {
  if (message.type !== 'load') return;
  void runJob(message.settings as NodeLoadSettings).then((result) => process.send?.({ ...result, id: message.id }));
});
process.on('disconnect', () => process.exit(0));
