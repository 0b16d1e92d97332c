/**
 * Prometheus metrics (docs/operations.md). One registry per app, never prom-client's
 * global default, so several servers can run in one process (tests) without sharing
 * counters. Request metrics come from the gateway's RequestObserver; gauges that describe
 * the present (streams open, breaker states, holds) are read when /metrics is scraped.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RequestObserver, RequestRecord } from '../gateway/pipeline.js';
import type { ChannelSnapshot } from '../gateway/channel-router.js';

export interface HoldTotals {
  /** Holds currently open. */
  count: number;
  /** Their sum, in micro-units (integers). */
  amount: number;
}

export interface SettlementTotals {
  /** Settlements the store refused, spooled and retried until they land. */
  pending: number;
  /** Failed attempts to commit settlements since start. */
  failures: number;
}

const BREAKER_VALUES = { closed: 0, 'half-open': 1, open: 2 } as const;

/** Seconds; a thinking model's first token can take a minute, a whole reply many. */
const TTFT_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120];
const DURATION_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900];

export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'model' | 'channel' | 'status' | 'code' | 'outcome'>;
  private readonly ttft: Histogram<'model' | 'channel'>;
  private readonly duration: Histogram<'model' | 'channel' | 'stream'>;
  private readonly tokens: Counter<'model' | 'channel' | 'kind'>;
  private readonly attempts: Counter<'channel' | 'result'>;
  private channels: () => readonly ChannelSnapshot[] = () => [];
  private streams: () => number = () => 0;
  private holds: (() => HoldTotals) | undefined;
  private settlements: (() => SettlementTotals) | undefined;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'moongate_' });
    this.requests = new Counter({
      name: 'moongate_requests_total',
      help: 'Chat requests handled, by model, channel, HTTP status, error code and outcome',
      labelNames: ['model', 'channel', 'status', 'code', 'outcome'],
      registers: [this.registry],
    });
    this.ttft = new Histogram({
      name: 'moongate_time_to_first_token_seconds',
      help: 'From the start of a request to the first upstream event',
      labelNames: ['model', 'channel'],
      buckets: TTFT_BUCKETS,
      registers: [this.registry],
    });
    this.duration = new Histogram({
      name: 'moongate_request_duration_seconds',
      help: 'Whole chat requests, from arrival to the last byte',
      labelNames: ['model', 'channel', 'stream'],
      buckets: DURATION_BUCKETS,
      registers: [this.registry],
    });
    this.tokens = new Counter({
      name: 'moongate_tokens_total',
      help: 'Tokens billed, by kind (prompt, completion, cached)',
      labelNames: ['model', 'channel', 'kind'],
      registers: [this.registry],
    });
    this.attempts = new Counter({
      name: 'moongate_upstream_attempts_total',
      help: 'Upstream attempts by channel and result (ok, or the error code); failovers show as failed attempts',
      labelNames: ['channel', 'result'],
      registers: [this.registry],
    });
    const streams: Gauge<string> = new Gauge({
      name: 'moongate_inflight_streams',
      help: 'Streaming responses open right now',
      registers: [this.registry],
      collect: () => {
        streams.set(this.streams());
      },
    });
    const breakers: Gauge<string> = new Gauge({
      name: 'moongate_channel_breaker_state',
      help: 'Circuit breaker per channel: 0 closed, 1 half-open, 2 open',
      labelNames: ['channel'],
      registers: [this.registry],
      collect: () => {
        breakers.reset();
        for (const c of this.channels()) breakers.set({ channel: c.name }, BREAKER_VALUES[c.breaker]);
      },
    });
    const channelLoad: Gauge<string> = new Gauge({
      name: 'moongate_channel_inflight_requests',
      help: 'Requests each channel is serving right now',
      labelNames: ['channel'],
      registers: [this.registry],
      collect: () => {
        channelLoad.reset();
        for (const c of this.channels()) channelLoad.set({ channel: c.name }, c.inFlight);
      },
    });
    const holdsOpen: Gauge<string> = new Gauge({
      name: 'moongate_holds_open',
      help: 'Quota holds open right now',
      registers: [this.registry],
      collect: () => {
        if (this.holds !== undefined) holdsOpen.set(this.holds().count);
      },
    });
    const holdsAmount: Gauge<string> = new Gauge({
      name: 'moongate_holds_amount_micros',
      help: 'Sum of the open quota holds, in micro-units',
      registers: [this.registry],
      collect: () => {
        if (this.holds !== undefined) holdsAmount.set(this.holds().amount);
      },
    });
    const settlementsPending: Gauge<string> = new Gauge({
      name: 'moongate_settlements_pending',
      help: 'Settlements the store refused, kept in the spool and retried until they land',
      registers: [this.registry],
      collect: () => {
        if (this.settlements !== undefined) settlementsPending.set(this.settlements().pending);
      },
    });
    let failuresSeen = 0;
    const settlementFailures: Counter<string> = new Counter({
      name: 'moongate_settlement_failures_total',
      help: 'Failed attempts to commit settlements (each is retried until it lands)',
      registers: [this.registry],
      collect: () => {
        if (this.settlements === undefined) return;
        const failures = this.settlements().failures;
        if (failures > failuresSeen) settlementFailures.inc(failures - failuresSeen);
        failuresSeen = failures;
      },
    });
  }

  /** Feeds the request metrics; give it to the gateway's observers. */
  readonly observer: RequestObserver = (record: RequestRecord) => {
    const model = record.model ?? 'unknown';
    const channel = record.channel ?? 'none';
    this.requests.inc({
      model,
      channel,
      status: record.error === null ? (record.outcome === 'aborted' ? 'aborted' : '200') : String(record.error.status),
      code: record.error?.code ?? 'none',
      outcome: record.outcome,
    });
    if (record.ttftMs !== undefined && record.ttftMs !== null) this.ttft.observe({ model, channel }, record.ttftMs / 1000);
    this.duration.observe({ model, channel, stream: String(record.stream ?? false) }, record.durationMs / 1000);
    const usage = record.usage;
    if (usage !== undefined && usage !== null) {
      this.tokens.inc({ model, channel, kind: 'prompt' }, usage.prompt_tokens);
      this.tokens.inc({ model, channel, kind: 'completion' }, usage.completion_tokens);
      const cached = usage.prompt_tokens_details.cached_tokens ?? 0;
      if (cached > 0) this.tokens.inc({ model, channel, kind: 'cached' }, cached);
    }
  };

  /** For ChannelRouterOptions.onAttempt. */
  readonly attempt = (channel: string, result: string): void => {
    this.attempts.inc({ channel, result });
  };

  registerChannels(snapshot: () => readonly ChannelSnapshot[]): void {
    this.channels = snapshot;
  }

  registerInFlightStreams(count: () => number): void {
    this.streams = count;
  }

  /** Billing registers its open holds here; until it does, the two hold gauges stay at 0. */
  registerHoldTotals(totals: () => HoldTotals): void {
    this.holds = totals;
  }

  /** Billing registers its settlement counts here (pending, failed attempts). */
  registerSettlements(totals: () => SettlementTotals): void {
    this.settlements = totals;
  }

  /**
   * The Redis-backed limits (REDIS_URL): whether they are degraded to this replica's share
   * now, and how many admissions were decided locally since start (docs/scaling.md).
   */
  registerRedisLimits(state: () => { degraded: boolean; fallbackAdmissions: number }): void {
    const degraded: Gauge<string> = new Gauge({
      name: 'moongate_redis_degraded',
      help: '1 while Redis is unreachable and this replica enforces its local share of the limits, else 0',
      registers: [this.registry],
      collect: () => {
        degraded.set(state().degraded ? 1 : 0);
      },
    });
    const fallback: Counter<string> = new Counter({
      name: 'moongate_limit_fallback_admissions_total',
      help: 'Admissions decided by this replica alone because Redis was unreachable',
      registers: [this.registry],
      collect: () => {
        fallback.reset();
        fallback.inc(state().fallbackAdmissions);
      },
    });
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
