/**
 * The channel router (docs/channels.md, "Routing"): picks a channel for the model by
 * priority (lowest number first), then by weight among the healthy ones; opens the call
 * and pulls its first event. Until that event arrives nothing has reached the client, so
 * a connect error, a 429, a 5xx, a malformed first event or a timeout moves the request to
 * another attempt, after a short backoff, within `maxAttempts` and `budgetMs`. A 400 does
 * not: the request itself is at fault and every channel would say the same.
 *
 * Each channel has a circuit breaker (consecutive failures open it) and a concurrency cap
 * (a channel at its cap is skipped, like an unhealthy one); a 429's retry-after keeps the
 * channel out of rotation for that long. Those rests live in a ChannelRests (injected: in
 * memory by default, shared by every replica with Redis, src/limits/channel-rests.ts); the
 * breakers and caps stay in this process (docs/scaling.md says why).
 */
import type { Logger } from 'pino';
import type { ChannelSpec, RoutingSettings } from '../channels/channel-config.js';
import { CallAbort, MoongateError, asMoongateError, type CallSignal, type ChatEvent } from '../contract/index.js';
import { MemoryChannelRests, type ChannelRests } from '../limits/channel-rests.js';
import type { Provider } from '../providers/provider.js';
import type { ChatRouter, OpenedCall, RouteCall } from './chat-gateway.js';
import { CircuitBreaker, type BreakerState } from './circuit-breaker.js';
import { TOTAL_TIME_EXPIRED, TimedEvents } from './timed-events.js';

export interface RouterChannel {
  spec: ChannelSpec;
  provider: Provider;
}

/** How one attempt ended, for metrics: `ok`, or the error code. */
export type AttemptListener = (channel: string, result: string) => void;

export interface ChannelRouterOptions {
  logger?: Logger | undefined;
  /** In [0, 1); injectable so tests can pin the weighted choice. */
  random?: () => number;
  now?: () => number;
  onAttempt?: AttemptListener;
  /** Where 429 rests are kept; in this process (on `now`) by default. */
  rests?: ChannelRests;
}

export interface ChannelSnapshot {
  name: string;
  breaker: BreakerState;
  inFlight: number;
}

class Channel {
  readonly breaker: CircuitBreaker;
  inFlight = 0;

  constructor(
    readonly spec: ChannelSpec,
    readonly provider: Provider,
    routing: RoutingSettings,
    now: () => number,
  ) {
    this.breaker = new CircuitBreaker(routing.breaker, now);
  }

  serves(model: string): boolean {
    return this.spec.everyModel === true || Object.hasOwn(this.spec.models, model);
  }
}

/**
 * What a failed attempt means. `retry`: `any` channel may be tried again, the same one
 * included (connect errors, 5xx, timeouts, a malformed stream: passing troubles); `other`:
 * only another channel (a 429 keeps this one out for its retry-after; a 401, 403 or 404 is
 * the channel's configuration); `none`: the request itself is at fault (400). `failure`:
 * whether it counts against the channel's breaker; an upstream that answered is alive.
 */
function classify(error: MoongateError): { retry: 'any' | 'other' | 'none'; failure: boolean } {
  switch (error.code) {
    case 'timeout':
      return { retry: 'any', failure: true };
    case 'too_many_requests':
      return { retry: 'other', failure: false };
    case 'api_error': {
      const status = error.upstreamStatus;
      return status !== undefined && status < 500 && status !== 408
        ? { retry: 'other', failure: false }
        : { retry: 'any', failure: true };
    }
    default:
      return { retry: 'none', failure: false };
  }
}

export class ChannelRouter implements ChatRouter {
  private readonly channels: Channel[];
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly rests: ChannelRests;
  /** servingOf's answers, by model id. */
  private readonly serving = new Map<string, readonly Channel[]>();

  constructor(
    channels: readonly RouterChannel[],
    private readonly routing: RoutingSettings,
    private readonly options: ChannelRouterOptions = {},
  ) {
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
    this.rests = options.rests ?? new MemoryChannelRests(this.now);
    this.channels = channels.filter((c) => c.spec.enabled).map((c) => new Channel(c.spec, c.provider, routing, this.now));
  }

  open(call: RouteCall): Promise<OpenedCall> {
    try {
      const model = call.model.id;
      const serving = this.servingOf(model);
      if (serving.length === 0) {
        const served = [...new Set(this.channels.flatMap((c) => Object.keys(c.spec.models)))];
        throw new MoongateError('model_not_found', `No channel serves ${model}; served models: ${served.join(', ')}`);
      }
      call.signal.throwIfAborted();
      // The first attempt, as most requests end: no sets of tried and excluded channels, no
      // async frame of its own; a failure goes on in retry().
      const startedAt = this.now();
      const channel = this.pick(serving, undefined);
      if (channel === undefined) throw this.unavailable(serving, model);
      return this.attempt(channel, call).catch((error: unknown) => this.retry(call, serving, channel, error, startedAt));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** After a failed first attempt: the next ones, within maxAttempts and the budget. */
  private async retry(call: RouteCall, serving: readonly Channel[], first: Channel, firstError: unknown, startedAt: number): Promise<OpenedCall> {
    const model = call.model.id;
    const tried = new Set<Channel>();
    /** Channels that must not be asked again for this request. */
    const excluded = new Set<Channel>();
    let lastError: MoongateError | undefined;
    let channel = first;
    let error = firstError;
    for (let attempt = 1; ; ) {
      tried.add(channel);
      if (call.signal.aborted) throw error;
      const failure = asMoongateError(error);
      this.options.onAttempt?.(channel.spec.name, failure.code);
      const { retry } = classify(failure);
      if (retry === 'none') throw failure;
      if (retry === 'other') excluded.add(channel);
      lastError = failure;
      this.options.logger?.warn(
        { trace_id: call.traceId, channel: channel.spec.name, attempt, code: failure.code, reason: failure.message },
        'upstream attempt failed before the first byte',
      );
      attempt++;
      if (attempt > this.routing.maxAttempts) break;
      call.signal.throwIfAborted();
      const left = this.routing.budgetMs - (this.now() - startedAt);
      if (left <= 0) break;
      // Moving on: the failed attempt's acceptance is not billed (docs/billing.md, "Early ends").
      call.onAcceptance?.(false);
      await sleep(Math.min(left, backoff(this.routing.backoffMs, attempt, this.random)), call.signal);
      const next = this.pick(
        serving.filter((c) => !excluded.has(c)),
        tried,
      );
      if (next === undefined) break;
      channel = next;
      try {
        return await this.attempt(channel, call);
      } catch (caught) {
        error = caught;
      }
    }
    throw lastError ?? this.unavailable(serving, model);
  }

  /** The enabled channels that serve `model`, found once per model (the channels are fixed for the router's life). */
  private servingOf(model: string): readonly Channel[] {
    let serving = this.serving.get(model);
    if (serving === undefined) {
      serving = this.channels.filter((c) => c.serves(model));
      // Bounded: a model reaches the router only once the catalogue has resolved it.
      if (this.serving.size < MAX_SERVING_ENTRIES) this.serving.set(model, serving);
    }
    return serving;
  }

  /** Breaker state and load of every channel, for /metrics. */
  snapshot(): ChannelSnapshot[] {
    return this.channels.map((c) => ({ name: c.spec.name, breaker: c.breaker.state, inFlight: c.inFlight }));
  }

  async close(): Promise<void> {
    await Promise.all([...this.channels.map((c) => c.provider.close?.()), this.rests.close()]);
  }

  /** The best untried channel that can take a request now (a tried one only if none is left). */
  private pick(serving: readonly Channel[], tried: Set<Channel> | undefined): Channel | undefined {
    if (serving.length === 1) {
      // One channel (the common set-up): no arrays, no weights.
      const only = serving[0] as Channel;
      return this.isReady(only) ? only : undefined;
    }
    const ready = serving.filter((c) => this.isReady(c));
    const untried = tried === undefined ? ready : ready.filter((c) => !tried.has(c));
    const pool = untried.length > 0 ? untried : ready;
    if (pool.length === 0) return undefined;
    const best = Math.min(...pool.map((c) => c.spec.priority));
    const group = pool.filter((c) => c.spec.priority === best);
    const total = group.reduce((sum, c) => sum + c.spec.weight, 0);
    let point = this.random() * total;
    for (const channel of group) {
      point -= channel.spec.weight;
      if (point < 0) return channel;
    }
    return group[group.length - 1];
  }

  /** Whether a channel can take a request now: its breaker lets it through, no 429 rests it, it is under its cap. */
  private isReady(channel: Channel): boolean {
    return channel.breaker.canPass() && this.rests.remainingMs(channel.spec.name) === 0 && channel.inFlight < channel.spec.maxConcurrency;
  }

  /**
   * No channel could take the request at all: busy (at its cap or told to wait by a 429)
   * is a 429 the client may retry; every breaker open is the operator's problem, a 500.
   */
  private unavailable(serving: readonly Channel[], model: string): MoongateError {
    const busy = serving.filter((c) => c.breaker.canPass());
    if (busy.length > 0) {
      const soonest = Math.min(...busy.map((c) => this.rests.remainingMs(c.spec.name) || 1000));
      return new MoongateError('too_many_requests', `every channel serving ${model} is busy, please retry later`, {
        retryAfter: Math.max(1, Math.ceil(soonest / 1000)),
      });
    }
    return new MoongateError('api_error', `no healthy channel serves ${model} right now`);
  }

  private async attempt(channel: Channel, call: RouteCall): Promise<OpenedCall> {
    if (!call.request.stream && channel.provider.complete !== undefined) return this.attemptWhole(channel, call, channel.provider.complete);
    const { spec, breaker } = channel;
    channel.inFlight++;
    breaker.begin();
    const { controller: attemptAbort, unlink } = attemptController(call.signal);
    const slot = new AttemptSlot(channel, unlink);
    const signal = attemptAbort.signal;
    const upstreamModel = spec.models[call.model.id] ?? call.model.id;
    // A new attempt: nothing of it is accepted yet; a late word from an attempt that already
    // failed (its upstream was being aborted) must not count for the next one.
    call.onAcceptance?.(false);
    let current = true;
    const onAccepted = (): void => {
      if (current) call.onAcceptance?.(true);
    };
    // A non-stream request on a provider without `complete` (the simulator) is answered once
    // its reply is complete: only the total deadline applies to it.
    const timeouts = call.request.stream ? spec.timeouts : { ...spec.timeouts, firstTokenMs: spec.timeouts.totalMs };
    const events = new TimedEvents(
      openEvents(channel.provider, {
        request: call.request,
        model: call.model,
        promptTokens: call.promptTokens,
        upstreamModel,
        signal,
        onAccepted,
      }),
      timeouts,
      (reason) => attemptAbort.abort(reason),
    );

    let first: IteratorResult<ChatEvent>;
    try {
      first = await events.next();
    } catch (error) {
      current = false;
      const failure = asMoongateError(error);
      slot.release(call.signal.aborted ? 'neutral' : this.judge(spec.name, failure));
      // A failed first step has already ended the provider's iteration; make sure of it.
      void events.return().catch(() => undefined);
      throw call.signal.aborted ? error : failure;
    }
    breaker.success();
    this.options.onAttempt?.(spec.name, 'ok');
    if (first.done === true) slot.release('neutral');

    // Told once when the rest of the events ends, by its end or by a failure; the events
    // themselves pass straight through (no wrapper, so no extra promise per event).
    events.onEnd = endOfEvents(slot, call.signal, this.options.logger, call.traceId, spec.name);
    const rest: AsyncIterator<ChatEvent> = {
      next: () => events.next(),
      async return() {
        // Stopped before the end (the client left, the gateway gave up): let the upstream go.
        if (!slot.released && !attemptAbort.signal.aborted) attemptAbort.abort(new Error('the call is over'));
        slot.release('neutral');
        return events.return();
      },
    };
    return { channel: spec.name, first, events: rest };
  }

  /**
   * A non-stream attempt on a provider that answers in one piece (Provider.complete): the
   * whole reply arrives before anything reaches the client, so any failure, up to its last
   * byte, may still move the request to another attempt. One limit applies, the channel's
   * total time; no per-event timers or steps.
   */
  private async attemptWhole(channel: Channel, call: RouteCall, complete: NonNullable<Provider['complete']>): Promise<OpenedCall> {
    const { spec, breaker } = channel;
    channel.inFlight++;
    breaker.begin();
    const { controller: attemptAbort, unlink } = attemptController(call.signal);
    let timedOut: MoongateError | undefined;
    const deadline = setTimeout(() => {
      timedOut = new MoongateError('timeout', TOTAL_TIME_EXPIRED);
      attemptAbort.abort(timedOut);
    }, spec.timeouts.totalMs);
    call.onAcceptance?.(false);
    let current = true;
    try {
      const events = await complete.call(channel.provider, {
        request: call.request,
        model: call.model,
        promptTokens: call.promptTokens,
        upstreamModel: spec.models[call.model.id] ?? call.model.id,
        signal: attemptAbort.signal,
        onAccepted: () => {
          if (current) call.onAcceptance?.(true);
        },
      });
      breaker.success();
      this.options.onAttempt?.(spec.name, 'ok');
      const first: IteratorResult<ChatEvent> = events.length > 0 ? { done: false, value: events[0] as ChatEvent } : { done: true, value: undefined };
      return { channel: spec.name, first, events: restOf(events), whole: events };
    } catch (error) {
      current = false;
      if (call.signal.aborted) {
        breaker.release();
        throw error;
      }
      const failure = timedOut ?? asMoongateError(error);
      if (this.judge(spec.name, failure) === 'failure') breaker.failure();
      else breaker.success();
      throw failure;
    } finally {
      clearTimeout(deadline);
      unlink();
      channel.inFlight--;
    }
  }

  /**
   * What a failed attempt (one its client did not abort) means for its channel's breaker:
   * `failure`, or `success` for an upstream that answered (it is alive); a 429 also rests the
   * channel for its retry-after.
   */
  private judge(channel: string, failure: MoongateError): 'success' | 'failure' {
    if (failure.code === 'too_many_requests') this.rests.rest(channel, (failure.retryAfter ?? 1) * 1000);
    return classify(failure).failure ? 'failure' : 'success';
  }
}

type Outcome = 'success' | 'failure' | 'neutral';

/**
 * A streamed attempt's place on its channel (its count in `inFlight`, the breaker's trial,
 * the link to the request's abort), given back once.
 */
class AttemptSlot {
  released = false;

  constructor(
    private readonly channel: Channel,
    private readonly unlink: () => void,
  ) {}

  release(outcome: Outcome): void {
    if (this.released) return;
    this.released = true;
    this.unlink();
    this.channel.inFlight--;
    const breaker = this.channel.breaker;
    if (outcome === 'success') breaker.success();
    else if (outcome === 'failure') breaker.failure();
    else breaker.release();
  }
}

/**
 * The callback a streamed attempt's TimedEvents calls when its events end. Made here, out of
 * `attempt`, so that it holds the slot, the request's signal and a few names, not `attempt`'s
 * closure scope: that scope reaches the whole request (the gateway's callbacks through
 * `call`), and a callback holding it made each streamed request survive its scavenges and be
 * promoted to the old generation whole, about 7 KB a request (issue 20, docs/benchmark.md).
 */
function endOfEvents(slot: AttemptSlot, signal: CallSignal, logger: ChannelRouterOptions['logger'], traceId: string, channel: string): (error: unknown) => void {
  return (error) => {
    if (error === undefined) {
      slot.release('neutral');
    } else if (!signal.aborted) {
      // Cut mid-stream by the upstream (not by the client): it counts against the channel.
      slot.release(classify(asMoongateError(error)).failure ? 'failure' : 'neutral');
      logger?.warn({ trace_id: traceId, channel, code: asMoongateError(error).code }, 'upstream failed mid-stream');
    } else slot.release('neutral');
  };
}

/**
 * One controller per attempt: a timeout aborts this upstream call, the request's signal aborts
 * every attempt. Linked by hand rather than with AbortSignal.any, whose signals are tracked
 * weakly and cost the garbage collector on every request; a CallAbort rather than an
 * AbortController, whose signal Node 20 takes about 8 µs to make (contract/call-abort.ts);
 * `unlink` once the attempt is over.
 */
function attemptController(parent: CallSignal): { controller: CallAbort; unlink: () => void } {
  const controller = new CallAbort();
  const onAbort = (): void => controller.abort(parent.reason);
  parent.addEventListener('abort', onAbort, { once: true });
  return { controller, unlink: () => parent.removeEventListener('abort', onAbort) };
}

/** The rest of a reply that came in one piece, handed out as an iterator. */
function restOf(events: readonly ChatEvent[]): AsyncIterator<ChatEvent> {
  let next = 1;
  return {
    next: () => Promise.resolve(next < events.length ? { done: false, value: events[next++] as ChatEvent } : { done: true, value: undefined }),
    return: () => {
      next = events.length;
      return Promise.resolve({ done: true, value: undefined });
    },
  };
}

function openEvents(provider: Provider, call: Parameters<Provider['chat']>[0]): AsyncIterator<ChatEvent> {
  return provider.chat(call)[Symbol.asyncIterator]();
}

/** Models whose serving channels a router remembers (servingOf). */
const MAX_SERVING_ENTRIES = 1024;

/** Exponential backoff with full jitter: attempt 2 waits up to base, attempt 3 up to 2×base... */
function backoff(baseMs: number, attempt: number, random: () => number): number {
  return Math.round(baseMs * 2 ** (attempt - 2) * (0.5 + random() / 2));
}

function sleep(ms: number, signal: CallSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
