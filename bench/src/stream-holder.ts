/**
 * Holds many slow streams open at once, run as its own process: it opens BENCH_STREAMS
 * streaming requests (a few hundred connecting at a time, so the listen backlog never
 * drops a SYN), keeps reading each, reports over IPC how many have sent their first
 * bytes, and aborts them all when the harness says `release`.
 */
import { setMaxListeners } from 'node:events';
import { Pool } from 'undici';
import type { HeldMessage } from './child-messages.js';

const url = new URL(process.env.BENCH_URL ?? '');
const total = Number(process.env.BENCH_STREAMS ?? 0);
const headers = JSON.parse(process.env.BENCH_HEADERS ?? '{}') as Record<string, string>;
const body = process.env.BENCH_BODY ?? '';
/** Connections being opened at once. */
const OPENING = 256;

const pool = new Pool(url.origin, { connections: total, pipelining: 1, connectTimeout: 30_000, bodyTimeout: 0 });
const controller = new AbortController();
// One signal aborts every stream at release: a listener per stream is expected.
setMaxListeners(0, controller.signal);
let held = 0;
let failed = 0;
let opening = 0;
let next = 0;

function report(): void {
  const message: HeldMessage = { type: 'held', held, failed };
  process.send?.(message);
}

async function hold(): Promise<void> {
  let counted = false;
  try {
    const response = await pool.request({ method: 'POST', path: url.pathname, headers, body, signal: controller.signal });
    if (response.statusCode !== 200) throw new Error(`status ${response.statusCode}`);
    for await (const _part of response.body) {
      if (!counted) {
        counted = true;
        held++;
        opening--;
        openMore();
      }
    }
  } catch {
    // An abort after release is the normal end.
  }
  if (!counted && !controller.signal.aborted) {
    failed++;
    opening--;
    openMore();
  }
}

function openMore(): void {
  while (opening < OPENING && next < total) {
    next++;
    opening++;
    void hold();
  }
}

const timer = setInterval(report, 250);
openMore();
process.on('message', (message: unknown) => {
  if (message !== 'release') return;
  clearInterval(timer);
  controller.abort();
  void pool.destroy().finally(() => process.exit(0));
});
process.on('disconnect', () => process.exit(0));
