/**
 * Sends `requests` seeded cases to a running moongate, a few connections at a time, and
 * checks every answer: no 5xx; every non-2xx answer is the envelope with an `x-trace-id`
 * equal to its trace_id; every answer has a trace id; a parser rejection says
 * `connection: close`; and every exchange ends (the server answers and, where it must,
 * closes) before the client's deadline, so no connection hangs.
 */
import { nextCase, FuzzRandom, type CaseContext, type FuzzCase } from './fuzz-cases.js';
import { rawSend, type RawExchange, type RawResponse } from './raw-http.js';

export interface FuzzOptions extends CaseContext {
  port: number;
  seed: number;
  requests: number;
  concurrency?: number;
  /** A connection silent this long is a hang. */
  hangMs?: number;
}

export interface FuzzFailure {
  family: string;
  index: number;
  problem: string;
}

export interface FuzzReport {
  /** HTTP requests sent (a pipelined case counts each of its requests). */
  requests: number;
  cases: number;
  answers: number;
  byStatus: Record<string, number>;
  failures: FuzzFailure[];
}

const ENVELOPE_KEYS = ['success', 'error', 'trace_id'];
const TRACE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** What is wrong with one answer, or undefined. */
export function checkAnswer(response: RawResponse): string | undefined {
  if (response.status >= 500) return `${response.status} ${response.body.slice(0, 200)}`;
  const headerTrace = response.headers['x-trace-id'];
  if (headerTrace === undefined || !TRACE_ID.test(headerTrace)) return `${response.status} without an x-trace-id`;
  if (response.status < 300 || response.status === 304) return undefined;
  let envelope: { success?: unknown; error?: { code?: unknown; message?: unknown }; trace_id?: unknown };
  try {
    envelope = JSON.parse(response.body) as typeof envelope;
  } catch {
    return `${response.status} body is not JSON: ${response.body.slice(0, 120)}`;
  }
  if (envelope === null || typeof envelope !== 'object' || !ENVELOPE_KEYS.every((key) => key in envelope)) return `${response.status} not the envelope: ${response.body.slice(0, 120)}`;
  if (envelope.success !== false || typeof envelope.error?.code !== 'string' || typeof envelope.error.message !== 'string') return `${response.status} malformed envelope: ${response.body.slice(0, 120)}`;
  if (envelope.trace_id !== headerTrace) return `${response.status} trace_id ${String(envelope.trace_id)} differs from x-trace-id ${headerTrace}`;
  if (!/^application\/json/.test(response.headers['content-type'] ?? '')) return `${response.status} content-type ${response.headers['content-type'] ?? '(none)'}`;
  if (response.headers['x-content-type-options'] !== 'nosniff') return `${response.status} without x-content-type-options: nosniff`;
  if (envelope.error.message.startsWith('the request is not valid HTTP') && response.headers.connection !== 'close') return 'a parser rejection without connection: close';
  return undefined;
}

function checkExchange(fuzzCase: FuzzCase, exchange: RawExchange): string[] {
  const problems: string[] = [];
  if (exchange.timedOut) problems.push(`hang: ${exchange.responses.length} answer(s), then silence`);
  for (const response of exchange.responses) {
    const problem = checkAnswer(response);
    if (problem !== undefined) problems.push(problem);
  }
  // The server may close after an answer that says so (Fastify does after a body it could not parse).
  const closedEarly = exchange.closedByServer && exchange.responses.at(-1)?.headers.connection === 'close';
  const shortOk = closedEarly && fuzzCase.responses !== undefined && exchange.responses.length < fuzzCase.responses;
  if (fuzzCase.responses !== undefined && !exchange.timedOut && exchange.responses.length !== fuzzCase.responses && !shortOk) {
    problems.push(`${exchange.responses.length} answers to ${fuzzCase.responses} requests (statuses ${exchange.responses.map((r) => r.status).join(',')})`);
  }
  if (fuzzCase.mustClose && exchange.responses.at(-1)?.headers.connection !== 'close') problems.push('the last answer lacks connection: close');
  if (exchange.leftover.trim() !== '' && !exchange.timedOut) problems.push(`bytes after the last answer: ${JSON.stringify(exchange.leftover.slice(0, 80))}`);
  return problems;
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const random = new FuzzRandom(options.seed);
  const report: FuzzReport = { requests: 0, cases: 0, answers: 0, byStatus: {}, failures: [] };
  const concurrency = options.concurrency ?? 8;
  // Cases are drawn in order from one generator, so a seed always gives the same sequence.
  const take = (): { fuzzCase: FuzzCase; index: number } | undefined => {
    if (report.requests >= options.requests) return undefined;
    const fuzzCase = nextCase(random, options);
    const index = report.cases++;
    report.requests += fuzzCase.responses ?? 1;
    return { fuzzCase, index };
  };
  const worker = async (): Promise<void> => {
    for (let next = take(); next !== undefined; next = take()) {
      const { fuzzCase, index } = next;
      const exchange = await rawSend({
        port: options.port,
        chunks: fuzzCase.chunks,
        ...(fuzzCase.responses === undefined ? {} : { expectResponses: fuzzCase.responses }),
        ...(fuzzCase.endAfterWrite === true ? { endAfterWrite: true } : {}),
        timeoutMs: options.hangMs ?? 15_000,
      });
      report.answers += exchange.responses.length;
      for (const response of exchange.responses) report.byStatus[response.status] = (report.byStatus[response.status] ?? 0) + 1;
      for (const problem of checkExchange(fuzzCase, exchange)) report.failures.push({ family: fuzzCase.family, index, problem });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => worker()));
  return report;
}
