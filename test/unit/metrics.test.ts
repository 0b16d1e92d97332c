/**
 * The request metrics (docs/operations.md) are summed per request in plain objects and handed
 * to the registry when /metrics is scraped (issue 20). What a scrape shows must be exactly
 * what prom-client's own counters and histograms show fed the same requests one at a time:
 * the reference registry below is fed that way.
 */
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { MoongateError, makeUsage } from '../../src/contract/index.js';
import type { RequestRecord } from '../../src/gateway/pipeline.js';
import { Metrics } from '../../src/observability/metrics.js';

const TTFT_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120];
const DURATION_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900];

function reference() {
  const registry = new Registry();
  const requests = new Counter({
    name: 'moongate_requests_total',
    help: 'Chat requests handled, by model, channel, HTTP status, error code and outcome',
    labelNames: ['model', 'channel', 'status', 'code', 'outcome'],
    registers: [registry],
  });
  const ttft = new Histogram({
    name: 'moongate_time_to_first_token_seconds',
    help: 'From the start of a request to the first upstream event',
    labelNames: ['model', 'channel'],
    buckets: TTFT_BUCKETS,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'moongate_request_duration_seconds',
    help: 'Whole chat requests, from arrival to the last byte',
    labelNames: ['model', 'channel', 'stream'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const tokens = new Counter({
    name: 'moongate_tokens_total',
    help: 'Tokens billed, by kind (prompt, completion, cached)',
    labelNames: ['model', 'channel', 'kind'],
    registers: [registry],
  });
  const attempts = new Counter({
    name: 'moongate_upstream_attempts_total',
    help: 'Upstream attempts by channel and result (ok, or the error code); failovers show as failed attempts',
    labelNames: ['channel', 'result'],
    registers: [registry],
  });
  return {
    registry,
    observe(record: RequestRecord): void {
      const model = record.model ?? 'unknown';
      const channel = record.channel ?? 'none';
      const status = record.error === null ? (record.outcome === 'aborted' ? 'aborted' : '200') : String(record.error.status);
      requests.inc({ model, channel, status, code: record.error?.code ?? 'none', outcome: record.outcome });
      if (record.ttftMs != null) ttft.observe({ model, channel }, record.ttftMs / 1000);
      duration.observe({ model, channel, stream: String(record.stream ?? false) }, record.durationMs / 1000);
      if (record.usage != null) {
        tokens.inc({ model, channel, kind: 'prompt' }, record.usage.prompt_tokens);
        tokens.inc({ model, channel, kind: 'completion' }, record.usage.completion_tokens);
        const cached = record.usage.prompt_tokens_details.cached_tokens ?? 0;
        if (cached > 0) tokens.inc({ model, channel, kind: 'cached' }, cached);
      }
    },
    attempt(channel: string, result: string): void {
      attempts.inc({ channel, result });
    },
  };
}


function record(fields: Partial<RequestRecord>): RequestRecord {
  return { traceId: 't', model: 'kimi-k2.5', caller: null, outcome: 'completed', error: null, durationMs: 40, ...fields } as RequestRecord;
}

const FIRST: RequestRecord[] = [
  record({ channel: 'primary', stream: false, ttftMs: 30, durationMs: 120, usage: makeUsage(12, 0) }),
  record({ channel: 'primary', stream: true, ttftMs: 250, durationMs: 1000, usage: makeUsage(120, 40, 100) }),
  record({ channel: 'primary', stream: true, ttftMs: 0.1, durationMs: 0.3, usage: makeUsage(3, 1, 0) }),
  record({ channel: 'backup', outcome: 'aborted', ttftMs: 99_000, durationMs: 1_000_000, usage: makeUsage(7, 2) }),
  record({ model: null, channel: null, outcome: 'failed', error: new MoongateError('bad_request'), ttftMs: null, durationMs: 3 }),
  record({ channel: 'backup', outcome: 'failed', error: new MoongateError('api_error'), durationMs: 0.1 / 3 }),
];
const SECOND: RequestRecord[] = [
  record({ channel: 'primary', stream: false, ttftMs: 30, durationMs: 120, usage: makeUsage(12, 5) }),
  record({ model: 'moonshot-v1-8k', channel: 'backup', stream: true, ttftMs: 1e-9, durationMs: 0.7, usage: makeUsage(1, 1, 1) }),
];

/** The request metrics' lines of a scrape (the process and gauge metrics differ between registries). */
function requestLines(text: string): string[] {
  return text.split('\n').filter((line) => /^(# (HELP|TYPE) )?moongate_(requests_total|time_to_first_token_seconds|request_duration_seconds|tokens_total|upstream_attempts_total)/.test(line));
}

describe('request metrics', () => {
  it('show at each scrape what prom-client fed one request at a time shows', async () => {
    const metrics = new Metrics();
    const expected = reference();
    const feed = (records: RequestRecord[]): void => {
      for (const r of records) {
        metrics.observer(r);
        expected.observe(r);
      }
      for (const [channel, result] of [['primary', 'ok'], ['backup', 'api_error'], ['primary', 'ok']] as const) {
        metrics.attempt(channel, result);
        expected.attempt(channel, result);
      }
    };

    expect(requestLines((await metrics.render()).body)).toEqual(requestLines(await expected.registry.metrics()));
    feed(FIRST);
    const first = requestLines((await metrics.render()).body);
    expect(first).toEqual(requestLines(await expected.registry.metrics()));
    expect(first).toContain('moongate_requests_total{model="kimi-k2.5",channel="primary",status="200",code="none",outcome="completed"} 3');
    expect(first).toContain('moongate_tokens_total{model="kimi-k2.5",channel="primary",kind="cached"} 100');
    expect(first).toContain('moongate_request_duration_seconds_count{model="kimi-k2.5",channel="primary",stream="true"} 2');
    expect(first).toContain('moongate_upstream_attempts_total{channel="primary",result="ok"} 2');

    // A scrape with nothing new changes nothing; then the next requests add to the totals.
    expect(requestLines((await metrics.render()).body)).toEqual(first);
    feed(SECOND);
    const second = requestLines((await metrics.render()).body);
    expect(second).toEqual(requestLines(await expected.registry.metrics()));
    expect(second).toContain('moongate_requests_total{model="kimi-k2.5",channel="primary",status="200",code="none",outcome="completed"} 4');
    expect(second).toContain('moongate_upstream_attempts_total{channel="primary",result="ok"} 4');
  });
});
