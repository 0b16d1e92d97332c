/**
 * Loaded into moongate with `--import` by `npm run bench -- --alloc-profile <dir>`: V8's
 * sampling heap profiler, with the objects the collector already freed kept in the profile,
 * so it shows where every byte a request allocates comes from (garbage included, which a
 * heap snapshot or `--heap-prof` leave out: most of a request's bytes are garbage a few
 * microseconds later, and the collector's time follows them).
 *
 * Sampling starts at the first chat request (startup's module loading and tokenizer ranks
 * stay out) and stops when moongate exits; then `<dir>/alloc-<pid>.heapprofile` (Chrome
 * DevTools reads it too) and `alloc-<pid>.json` (the chat requests seen while sampling, for
 * bytes per request) are written. `node bench/dist/profile-summary.js <dir>` sums them.
 *
 * With `BENCH_ALLOC_SURVIVORS=1` the profile keeps only what outlived its first scavenge
 * (objects a scavenge freed are left out): what is promoted to the old generation and dies
 * there, or is still alive. Read with a low concurrency (`ab-compare --connections 1`), where
 * a request's own objects should all die young, it shows what outlives the request.
 */
import diagnostics from 'node:diagnostics_channel';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { Session } from 'node:inspector';
import { join } from 'node:path';

/**
 * One sample per this many bytes allocated, on average (V8's default is 32 KiB: too coarse for
 * a 60 KB request); `BENCH_ALLOC_INTERVAL` sets another (a survivors-only profile, where the
 * sampler's own cost would keep requests in flight longer, reads better with 4096).
 */
const SAMPLING_INTERVAL_BYTES = Number(process.env.BENCH_ALLOC_INTERVAL ?? 512);
const CHAT_PATH = /\/chat\/completions(?:\?|$)/;

const dir = process.env.BENCH_ALLOC_DIR;
if (dir !== undefined && dir !== '') {
  const session = new Session();
  session.connect();
  // A session on the main thread answers synchronously: each call is done when post returns.
  const post = (method: string, params?: object): unknown => {
    let result: unknown;
    session.post(method, params, (error, answer) => {
      if (error !== null) throw error;
      result = answer;
    });
    return result;
  };
  let requests = 0;
  diagnostics.subscribe('http.server.request.start', (message) => {
    const { request } = message as { request: IncomingMessage };
    if (!CHAT_PATH.test(request.url ?? '')) return;
    if (requests++ > 0) return;
    post('HeapProfiler.enable');
    post('HeapProfiler.startSampling', {
      samplingInterval: SAMPLING_INTERVAL_BYTES,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: process.env.BENCH_ALLOC_SURVIVORS !== '1',
    });
  });
  process.once('exit', () => {
    if (requests === 0) return;
    const { profile } = post('HeapProfiler.stopSampling') as { profile: unknown };
    // Like --cpu-prof-dir, the directory is made when it is missing.
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `alloc-${process.pid}.heapprofile`), JSON.stringify(profile));
    writeFileSync(join(dir, `alloc-${process.pid}.json`), JSON.stringify({ requests }));
  });
}
