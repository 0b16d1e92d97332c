/**
 * Figure 9: what a long prompt costs (issue 20). Coding agents send 100k-token contexts on
 * every turn, and whatever moongate does per byte of prompt (parsing, counting, rebuilding
 * the body) grows with it, while the lean floor only copies the bytes. One request at a time
 * with prompts of 1 KB, 100 KB and 1 MB (about 210k tokens, inside the bench model's 256k
 * context), non-stream, through moongate and through the lean floor (which forwards the same
 * body): each server's CPU per request, and the p50, in two cases:
 * - cold: every request's text is new (a stamp at its start, same size), so nothing moongate
 *   remembers of texts it has seen (the count cache, src/tokens/count-cache.ts) applies;
 * - warm: the same text every time, as an agent resends its context.
 * Target: 1 MB cold <= 3x the floor's CPU; the warm row is shown beside it.
 */
import { type Bench, fixed, log, noteErrors, requestBody, type Target } from './bench-context.js';
import { ratioOf, type Row } from './bench-report.js';
import { sampleProcess } from './process-sample.js';

export const PROMPT_CPU_TARGET = 3;

interface Size {
  label: string;
  bytes: number;
  /**
   * Requests measured in each case (full run, --quick), after a warm-up of a fifth as many.
   * The 1 MB case, the one with a target, is long enough that the floor's CPU over it is at
   * least about 20 of /proc's 10 ms clock ticks: 100 x 2 to 3 ms since the floor writes its
   * answer whole (40 requests were 8 to 13 ticks, so one tick moved the ratio by up to 12%).
   * The smaller sizes have no target and are shown for their trend.
   */
  requests: number;
  quickRequests: number;
}

const SIZES: readonly Size[] = [
  { label: '1 KB', bytes: 1024, requests: 500, quickRequests: 4 },
  { label: '100 KB', bytes: 100 * 1024, requests: 150, quickRequests: 3 },
  { label: '1 MB', bytes: 1024 * 1024, requests: 100, quickRequests: 2 },
];

const CASES = ['cold', 'warm'] as const;
type Case = (typeof CASES)[number];

const CASE_WORDS: Record<Case, string> = {
  cold: 'cold (a new text each time)',
  warm: 'warm (the same text again)',
};

/**
 * Where each cold request's stamp goes (node-loader.ts replaces it): the start of the prompt,
 * so the whole text differs from every other one's, at the same size. Letters and digits only,
 * so the JSON body's length does not change with the stamp.
 */
export const VARY_MARKER = 'VARYVARYVARY';

const WORDS = (
  'the gateway reads each request counts its tokens holds the money and forwards the body to ' +
  'an upstream which answers with a completion while the agent keeps its whole context of source ' +
  'files tests logs and notes in every turn so that the model sees what changed since last time'
).split(' ');

/** English-like text of exactly `bytes` bytes (ASCII), the same on every run: a few words a token. */
export function promptText(bytes: number): string {
  let seed = 20;
  let text = '';
  while (text.length < bytes) {
    seed = (seed * 48_271) % 2_147_483_647;
    const word = WORDS[seed % WORDS.length] ?? 'the';
    text += seed % 11 === 0 ? `${word}.\n` : `${word} `;
  }
  return text.slice(0, bytes);
}

/** The prompt of `bytes` bytes, starting with VARY_MARKER (replaced per request when cold; kept as it is when warm). */
export function promptWithMarker(bytes: number): string {
  return `${VARY_MARKER} ${promptText(bytes - VARY_MARKER.length - 1)}`;
}

type Measured = Awaited<ReturnType<typeof measureCase>>;

async function measureCase(bench: Bench, target: Target, body: string, requests: number, vary: boolean) {
  const headers = { 'content-type': 'application/json', ...target.headers };
  const job = { url: target.url, body, headers, stream: false, connections: 1, durationMs: 300_000, requests };
  const before = await sampleProcess(target.pid);
  const result = await bench.loader.run(vary ? { ...job, varyMarker: VARY_MARKER } : job);
  const after = await sampleProcess(target.pid);
  return { ...result, cpuUsPerRequest: (after.cpuUs - before.cpuUs) / Math.max(1, result.requests) };
}

/**
 * One warm-up (the warm body, a fifth as many requests: the JIT settles and the warm text is
 * seen once), then the cold case, then the warm one.
 */
async function measure(bench: Bench, target: Target, body: string, requests: number): Promise<Record<Case, Measured>> {
  const headers = { 'content-type': 'application/json', ...target.headers };
  const warmup = Math.max(1, Math.round(requests / 5));
  await bench.loader.run({ url: target.url, body, headers, stream: false, connections: 1, durationMs: 120_000, requests: warmup });
  const cold = await measureCase(bench, target, body, requests, true);
  const warm = await measureCase(bench, target, body, requests, false);
  return { cold, warm };
}

export async function phasePrompt(bench: Bench, rows: Row[], figures: Record<string, unknown>, notes: string[]): Promise<void> {
  const out: Record<string, unknown> = {};
  for (const size of SIZES) {
    const body = requestBody(false, promptWithMarker(size.bytes));
    const requests = bench.settings.quick ? size.quickRequests : size.requests;
    const measured: Record<string, Record<Case, Measured>> = {};
    for (const target of [bench.floor, bench.moongate]) {
      log(`[prompt] ${target.name}, ${size.label} prompt, one at a time: ${requests} requests cold, then ${requests} warm`);
      const result = await measure(bench, target, body, requests);
      for (const which of CASES) {
        noteErrors(result[which], `${target.name} ${size.label} prompt, ${which}`, notes);
        log(`  ${which}: ${result[which].cpuUsPerRequest.toFixed(0)} µs CPU/request, p50 ${result[which].p50Ms.toFixed(2)} ms`);
      }
      measured[target.name] = result;
    }
    const m = measured.moongate;
    const f = measured['lean floor'];
    if (m === undefined || f === undefined) throw new Error('prompt-size run missing');
    for (const which of CASES) {
      const mc = m[which];
      const fc = f[which];
      const ratio = ratioOf(mc.cpuUsPerRequest, fc.cpuUsPerRequest);
      // The target is judged where nothing is remembered; the warm row shows what an agent's resent context costs.
      const targeted = size.bytes === 1024 * 1024 && which === 'cold';
      rows.push({
        figure: `9. CPU per request, ${size.label} prompt, ${CASE_WORDS[which]}`, unit: 'µs',
        moongate: fixed(mc.cpuUsPerRequest, 0), floor: fixed(fc.cpuUsPerRequest, 0), bare: null, ratio,
        target: targeted ? `<= ${PROMPT_CPU_TARGET.toFixed(2)}x` : '', pass: targeted ? ratio !== null && ratio <= PROMPT_CPU_TARGET : null,
      });
    }
    for (const which of CASES) {
      const mc = m[which];
      const fc = f[which];
      rows.push({ figure: `9. p50, ${size.label} prompt, ${which}`, unit: 'ms', moongate: fixed(mc.p50Ms), floor: fixed(fc.p50Ms), bare: null, ratio: ratioOf(mc.p50Ms, fc.p50Ms), target: '', pass: null });
    }
    out[size.label] = { bodyBytes: Buffer.byteLength(body), requests, moongate: m, floor: f };
  }
  figures.promptSize = out;
}
