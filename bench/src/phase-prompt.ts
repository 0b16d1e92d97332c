/**
 * Figure 9: what a long prompt costs (issue 20). Coding agents send 100k-token contexts on
 * every turn, and whatever moongate does per byte of prompt (parsing, counting, rebuilding
 * the body) grows with it, while the lean floor only copies the bytes. One request at a time
 * with prompts of 1 KB, 100 KB and 1 MB (about 210k tokens, inside the bench model's 256k
 * context), non-stream, through moongate and through the lean floor (which forwards the same
 * body): each server's CPU per request, and the p50. Target: 1 MB <= 3x the floor's CPU.
 */
import { type Bench, fixed, log, noteErrors, requestBody, type Target } from './bench-context.js';
import { ratioOf, type Row } from './bench-report.js';
import { sampleProcess } from './process-sample.js';

export const PROMPT_CPU_TARGET = 3;

interface Size {
  label: string;
  bytes: number;
  /**
   * Requests measured (full run, --quick) after a warm-up of a fifth as many: enough that the
   * floor's CPU over them is many of /proc's 10 ms clock ticks.
   */
  requests: number;
  quickRequests: number;
}

const SIZES: readonly Size[] = [
  { label: '1 KB', bytes: 1024, requests: 1_000, quickRequests: 5 },
  { label: '100 KB', bytes: 100 * 1024, requests: 200, quickRequests: 3 },
  { label: '1 MB', bytes: 1024 * 1024, requests: 50, quickRequests: 2 },
];

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

async function measure(bench: Bench, target: Target, body: string, requests: number) {
  const headers = { 'content-type': 'application/json', ...target.headers };
  const warmup = Math.max(1, Math.round(requests / 5));
  await bench.loader.run({ url: target.url, body, headers, stream: false, connections: 1, durationMs: 120_000, requests: warmup });
  const before = await sampleProcess(target.pid);
  const result = await bench.loader.run({ url: target.url, body, headers, stream: false, connections: 1, durationMs: 300_000, requests });
  const after = await sampleProcess(target.pid);
  return { ...result, cpuUsPerRequest: (after.cpuUs - before.cpuUs) / Math.max(1, result.requests) };
}

export async function phasePrompt(bench: Bench, rows: Row[], figures: Record<string, unknown>, notes: string[]): Promise<void> {
  const out: Record<string, unknown> = {};
  for (const size of SIZES) {
    const body = requestBody(false, promptText(size.bytes));
    const requests = bench.settings.quick ? size.quickRequests : size.requests;
    const measured: Record<string, Awaited<ReturnType<typeof measure>>> = {};
    for (const target of [bench.floor, bench.moongate]) {
      log(`[prompt] ${target.name}, ${size.label} prompt, one at a time: ${requests} requests`);
      const result = await measure(bench, target, body, requests);
      noteErrors(result, `${target.name} ${size.label} prompt`, notes);
      measured[target.name] = result;
      log(`  ${result.cpuUsPerRequest.toFixed(0)} µs CPU/request, p50 ${result.p50Ms.toFixed(2)} ms`);
    }
    const m = measured.moongate;
    const f = measured['lean floor'];
    if (m === undefined || f === undefined) throw new Error('prompt-size run missing');
    const ratio = ratioOf(m.cpuUsPerRequest, f.cpuUsPerRequest);
    const targeted = size.bytes === 1024 * 1024;
    rows.push(
      {
        figure: `9. CPU per request, ${size.label} prompt, one at a time`, unit: 'µs',
        moongate: fixed(m.cpuUsPerRequest, 0), floor: fixed(f.cpuUsPerRequest, 0), bare: null, ratio,
        target: targeted ? `<= ${PROMPT_CPU_TARGET.toFixed(2)}x` : '', pass: targeted ? ratio !== null && ratio <= PROMPT_CPU_TARGET : null,
      },
      { figure: `9. p50, ${size.label} prompt, one at a time`, unit: 'ms', moongate: fixed(m.p50Ms), floor: fixed(f.p50Ms), bare: null, ratio: ratioOf(m.p50Ms, f.p50Ms), target: '', pass: null },
    );
    out[size.label] = { bodyBytes: Buffer.byteLength(body), requests, moongate: m, floor: f };
  }
  figures.promptSize = out;
}
