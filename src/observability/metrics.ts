/**
 * Prometheus metrics (docs/operations.md). One registry per app, never prom-client's
 * global default, so several servers can run in one process (tests) without sharing
 * counters. Request metrics come from the gateway's RequestObserver; gauges that describe
 * the present (streams open, breaker states, holds) are read when /metrics is scraped.
 *
 * A request does only what it must (issue 20): it adds to plain per-label-set sums (a Map
 * lookup by the label values joined, and a few additions), and prom-client gets them when
 * /metrics is scraped. prom-client's own inc() and observe() hash and check their labels
 * on every call, which cost a few microseconds per request across the five metrics.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics, type CounterConfiguration, type Histogram, type LabelValues } from 'prom-client';
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
  private readonly requests: DeferredCounter<'model' | 'channel' | 'status' | 'code' | 'outcome'>;
  private readonly ttft: BucketHistogram<'model' | 'channel'>;
  private readonly duration: BucketHistogram<'model' | 'channel' | 'stream'>;
  private readonly tokens: DeferredCounter<'model' | 'channel' | 'kind'>;
  private readonly attempts: DeferredCounter<'channel' | 'result'>;
  private channels: () => readonly ChannelSnapshot[] = () => [];
  private streams: () => number = () => 0;
  private holds: (() => HoldTotals) | undefined;
  private settlements: (() => SettlementTotals) | undefined;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'moongate_' });
    this.requests = new DeferredCounter({
      name: 'moongate_requests_total',
      help: 'Chat requests handled, by model, channel, HTTP status, error code and outcome',
      labelNames: ['model', 'channel', 'status', 'code', 'outcome'],
      registers: [this.registry],
    });
    this.ttft = new BucketHistogram(
      this.registry,
      'moongate_time_to_first_token_seconds',
      'From the start of a request to the first upstream event',
      TTFT_BUCKETS,
    );
    this.duration = new BucketHistogram(
      this.registry,
      'moongate_request_duration_seconds',
      'Whole chat requests, from arrival to the last byte',
      DURATION_BUCKETS,
    );
    this.tokens = new DeferredCounter({
      name: 'moongate_tokens_total',
      help: 'Tokens billed, by kind (prompt, completion, cached)',
      labelNames: ['model', 'channel', 'kind'],
      registers: [this.registry],
    });
    this.attempts = new DeferredCounter({
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
    const status = record.error === null ? (record.outcome === 'aborted' ? 'aborted' : '200') : String(record.error.status);
    const code = record.error?.code ?? 'none';
    const outcome = record.outcome;
    // No label value contains a newline (model ids and channel names match MODEL_ID_PATTERN
    // and CHANNEL_NAME_PATTERN; the rest are ours), so the values joined by one name a label set.
    const series = `${model}\n${channel}`;
    this.requests.add(`${series}\n${status}\n${code}\n${outcome}`, () => ({ model, channel, status, code, outcome }), 1);
    if (record.ttftMs !== undefined && record.ttftMs !== null) this.ttft.observe(series, () => ({ model, channel }), record.ttftMs / 1000);
    const stream = String(record.stream ?? false);
    this.duration.observe(`${series}\n${stream}`, () => ({ model, channel, stream }), record.durationMs / 1000);
    const usage = record.usage;
    if (usage !== undefined && usage !== null) {
      this.tokens.add(`${series}\nprompt`, () => ({ model, channel, kind: 'prompt' }), usage.prompt_tokens);
      this.tokens.add(`${series}\ncompletion`, () => ({ model, channel, kind: 'completion' }), usage.completion_tokens);
      const cached = usage.prompt_tokens_details.cached_tokens ?? 0;
      if (cached > 0) this.tokens.add(`${series}\ncached`, () => ({ model, channel, kind: 'cached' }), cached);
    }
  };

  /** For ChannelRouterOptions.onAttempt. */
  readonly attempt = (channel: string, result: string): void => {
    this.attempts.add(`${channel}\n${result}`, () => ({ channel, result }), 1);
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

interface PendingCount<L extends string> {
  labels: LabelValues<L>;
  value: number;
  /** Added to since the last scrape (an addition of 0 still makes the series appear, as inc(0) does). */
  touched: boolean;
}

/**
 * A prom-client counter whose increments are summed here per label set and handed to it
 * when scraped. The counts are integers, so the sum is the same in either order.
 */
class DeferredCounter<L extends string> {
  readonly #pending = new Map<string, PendingCount<L>>();

  constructor(config: Omit<CounterConfiguration<L>, 'collect'>) {
    const counter: Counter<L> = new Counter({
      ...config,
      collect: () => {
        for (const pending of this.#pending.values()) {
          if (!pending.touched) continue;
          counter.inc(pending.labels, pending.value);
          pending.value = 0;
          pending.touched = false;
        }
      },
    });
  }

  /** `key` names the label set; `labels` is called the first time it is seen. */
  add(key: string, labels: () => LabelValues<L>, value: number): void {
    let pending = this.#pending.get(key);
    if (pending === undefined) this.#pending.set(key, (pending = { labels: labels(), value: 0, touched: false }));
    pending.value += value;
    pending.touched = true;
  }
}

interface BucketSeries<L extends string> {
  labels: LabelValues<L>;
  /** Observations per bucket (not cumulative); one past the last bound is +Inf's own. */
  counts: number[];
  sum: number;
  count: number;
}

/**
 * A histogram kept here and registered with the registry as a metric of its own: prom-client
 * has no way to hand a histogram bucket counts, so this one writes the same series
 * (`_bucket` cumulative with `le` first, `+Inf`, `_sum`, `_count`) that its Histogram would.
 */
class BucketHistogram<L extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #series = new Map<string, BucketSeries<L>>();

  constructor(
    registry: Registry,
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
  ) {
    // The registry reads a metric through name, help, type, aggregator, get() and reset() alone.
    registry.registerMetric(this as unknown as Histogram<L>);
  }

  /** `key` names the label set; `labels` is called the first time it is seen. */
  observe(key: string, labels: () => LabelValues<L>, value: number): void {
    let series = this.#series.get(key);
    if (series === undefined) {
      series = { labels: labels(), counts: new Array<number>(this.bounds.length + 1).fill(0), sum: 0, count: 0 };
      this.#series.set(key, series);
    }
    // prom-client's rule: the first bound the value is at or under.
    let bucket = 0;
    while (bucket < this.bounds.length && !(value <= (this.bounds[bucket] as number))) bucket++;
    (series.counts[bucket] as number)++;
    series.sum += value;
    series.count++;
  }

  get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: { labels: LabelValues<string>; value: number; metricName: string }[] }> {
    const values: { labels: LabelValues<string>; value: number; metricName: string }[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const { labels, counts, sum, count } of this.#series.values()) {
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += counts[i] as number;
        values.push({ labels: { le: bound, ...labels }, value: cumulative, metricName: bucketName });
      });
      values.push({ labels: { le: '+Inf', ...labels }, value: count, metricName: bucketName });
      values.push({ labels: { ...labels }, value: sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...labels }, value: count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  reset(): void {
    this.#series.clear();
  }
}
