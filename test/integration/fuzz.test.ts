/**
 * The seeded 10,000-request cut of `npm run fuzz` (fuzz/): hostile JSON on every public route,
 * absurd content types, methods and paths, malformed request lines, headers and chunked
 * bodies, and pipelined requests, sent over raw sockets to the compiled moongate in its own
 * process. Correctness only, no clock: no 5xx, every non-2xx answer is the envelope with an
 * equal x-trace-id, and every exchange completes at the socket level (the full run adds the
 * timing and memory checks, which tests may not make).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFuzzTarget, type FuzzTarget } from '../../fuzz/src/moongate-server.js';
import { checkAnswer, runFuzz } from '../../fuzz/src/run-fuzz.js';

let target: FuzzTarget;

beforeAll(async () => {
  target = await startFuzzTarget();
});
afterAll(async () => {
  await target?.stop();
});

describe('the fuzzer', () => {
  it('flags what it must: a 500, Fastify’s own error JSON, and a trace id that differs from its header', () => {
    const headers = { 'x-trace-id': '2cf86e86-22a4-46e1-ac2f-032c0f2a4e89', 'content-type': 'application/json', 'x-content-type-options': 'nosniff' };
    const envelope = (traceId: string): string => JSON.stringify({ success: false, error: { code: 'bad_request', message: 'x' }, trace_id: traceId });
    expect(checkAnswer({ status: 400, headers, body: envelope(headers['x-trace-id']) })).toBeUndefined();
    expect(checkAnswer({ status: 500, headers, body: envelope(headers['x-trace-id']) })).toMatch(/^500/);
    expect(checkAnswer({ status: 400, headers, body: '{"error":"Bad Request","message":"Client Error","statusCode":400}' })).toMatch(/not the envelope/);
    expect(checkAnswer({ status: 400, headers, body: envelope('8d0c2a59-4f8e-4c3e-9f4e-6f1f7c1f7d11') })).toMatch(/differs/);
    expect(checkAnswer({ status: 400, headers: { 'content-type': 'application/json' }, body: '' })).toMatch(/x-trace-id/);
  });

  it('10,000 seeded requests: no 5xx, every error in the envelope with its trace id, no connection left hanging', { timeout: 180_000 }, async () => {
    const report = await runFuzz({ port: target.port, seed: 15, requests: 10_000, concurrency: 8, token: target.token, metricsToken: target.metricsToken });
    expect(report.failures.slice(0, 10).map((f) => `case ${f.index} (${f.family}): ${f.problem}`)).toEqual([]);
    expect(report.requests).toBeGreaterThanOrEqual(10_000);
    // Every family reached the server: answers of each kind came back.
    expect(Object.keys(report.byStatus)).toEqual(expect.arrayContaining(['200', '400', '401', '404']));
    expect(target.alive()).toBe(true);
  });
});
