/**
 * The router's choices with scripted providers: priority first, then weight; a channel at
 * its concurrency cap is skipped, and all of them at their caps is a 429; a bad request is
 * not retried; a client that left stops the retries at once; attempts stay within budget.
 * Tests with waits run on Vitest's fake clock (the router reads Date.now, which it fakes too).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { channelSchema, routingSchema, toChannelSpec } from '../../src/channels/channel-config.js';
import { MoongateError, findModel, parseChatRequest, type ChatEvent } from '../../src/contract/index.js';
import { ChannelRouter, type RouterChannel } from '../../src/gateway/channel-router.js';
import type { RouteCall } from '../../src/gateway/chat-gateway.js';
import type { Provider, ProviderCall } from '../../src/providers/provider.js';
import { ScriptedProvider, type ScriptStep } from '../helpers/scripted-provider.js';

/** A provider that answers non-stream calls in one piece (Provider.complete): `hang` waits for the abort. */
class WholeProvider implements Provider {
  readonly kind = 'whole';
  readonly calls: ProviderCall[] = [];
  streamed = 0;
  constructor(private readonly answer: ChatEvent[] | 'hang') {}
  async *chat(): AsyncIterable<ChatEvent> {
    this.streamed++;
    yield* [];
  }
  complete(call: ProviderCall): Promise<ChatEvent[]> {
    this.calls.push(call);
    call.onAccepted?.();
    const answer = this.answer;
    if (answer !== 'hang') return Promise.resolve(answer);
    return new Promise((_, reject) => call.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));
  }
}

const OK: ScriptStep[] = [
  { type: 'delta', index: 0, content: 'hi' },
  { type: 'finish', index: 0, reason: 'stop' },
];

function channel(name: string, script: ScriptStep[], extra: Record<string, unknown> = {}): RouterChannel & { provider: ScriptedProvider } {
  return { spec: toChannelSpec(channelSchema.parse({ name, kind: 'simulator', ...extra }), 'file'), provider: new ScriptedProvider(script) };
}

function call(signal: AbortSignal = new AbortController().signal, stream = false): RouteCall {
  const request = parseChatRequest({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'hi' }], stream });
  return { traceId: 't', request, model: findModel('kimi-k2.5')!, promptTokens: 9, signal };
}

function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length] ?? 0;
}

const ROUTING = routingSchema.parse({ backoffMs: 0 });

async function drain(events: AsyncIterator<ChatEvent>): Promise<void> {
  while ((await events.next()).done !== true);
}

/** Plays every pending timer (and the promises they settle) in order, then hands back the outcome. */
async function settled<T>(outcome: Promise<T>): Promise<T> {
  await vi.runAllTimersAsync();
  return outcome;
}

describe('ChannelRouter', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reports acceptance per attempt: a failed-over accepted attempt is forgotten, the last attempt has the last word', async () => {
    const failing: ScriptStep[] = [{ type: 'accept' }, { type: 'throw', error: new MoongateError('timeout') }];
    const words: boolean[] = [];
    const over = new ChannelRouter([channel('a', failing), channel('b', [{ type: 'accept' }, ...OK], { priority: 1 })], ROUTING);
    const opened = await over.open({ ...call(), onAcceptance: (yes) => words.push(yes) });
    await drain(opened.events);
    expect(opened.channel).toBe('b');
    expect(words).toEqual([false, true, false, false, true]);

    const last: boolean[] = [];
    const single = new ChannelRouter([channel('a', failing)], routingSchema.parse({ backoffMs: 0, maxAttempts: 1 }));
    await expect(single.open({ ...call(), onAcceptance: (yes) => last.push(yes) })).rejects.toMatchObject({ code: 'timeout' });
    // Accepted, then failed, and no other attempt: its prompt is billed.
    expect(last.at(-1)).toBe(true);
  });

  it('asks a provider that answers in one piece for the whole non-stream reply; past the total time it moves on', async () => {
    vi.useFakeTimers();
    const reply: ChatEvent[] = [
      { type: 'delta', index: 0, content: 'whole' },
      { type: 'finish', index: 0, reason: 'stop' },
    ];
    const hanging = new WholeProvider('hang');
    const answering = new WholeProvider(reply);
    const spec = (name: string, priority: number) =>
      toChannelSpec(channelSchema.parse({ name, kind: 'simulator', priority, timeouts: { totalMs: 5_000 } }), 'file');
    const router = new ChannelRouter(
      [
        { spec: spec('slow', 0), provider: hanging },
        { spec: spec('fast', 1), provider: answering },
      ],
      ROUTING,
    );
    const words: boolean[] = [];
    const opening = router.open({ ...call(), onAcceptance: (yes) => words.push(yes) });
    await vi.advanceTimersByTimeAsync(4_999);
    expect(answering.calls).toHaveLength(0);
    const opened = await settled(opening);
    expect(opened).toMatchObject({ channel: 'fast', whole: reply, first: { done: false, value: reply[0] } });
    expect(await opened.events.next()).toEqual({ done: false, value: reply[1] });
    expect((await opened.events.next()).done).toBe(true);
    expect(hanging.calls[0]?.signal.aborted).toBe(true);
    // The timed-out attempt's acceptance is forgotten; the one that answered has the last word.
    expect(words.at(-1)).toBe(true);
    expect(words).toContain(false);
    // A stream still goes through chat().
    await router.open(call(new AbortController().signal, true)).catch(() => undefined);
    expect(hanging.streamed + answering.streamed).toBe(1);
  });

  it('prefers the lowest priority number, then splits by weight', async () => {
    const low = channel('low', OK, { priority: 1, weight: 100 });
    const a = channel('a', OK, { weight: 3 });
    const b = channel('b', OK, { weight: 1 });
    const router = new ChannelRouter([low, a, b], ROUTING, { random: sequence(0.1, 0.74, 0.76, 0.99) });
    const picked: string[] = [];
    for (let i = 0; i < 4; i++) {
      const opened = await router.open(call());
      await drain(opened.events);
      picked.push(opened.channel);
    }
    expect(picked).toEqual(['a', 'a', 'b', 'b']);
    expect(low.provider.calls).toHaveLength(0);
  });

  it('skips a channel at its concurrency cap, and answers 429 when every channel is at its cap', async () => {
    const wait: ScriptStep[] = [{ type: 'delta', index: 0, content: 'x' }, { type: 'wait', ms: 60_000 }];
    const first = channel('first', wait, { maxConcurrency: 1 });
    const second = channel('second', wait, { maxConcurrency: 1, priority: 1 });
    const router = new ChannelRouter([first, second], ROUTING);
    const client = new AbortController();
    const one = await router.open(call(client.signal));
    const two = await router.open(call(client.signal));
    expect([one.channel, two.channel]).toEqual(['first', 'second']);
    const refused = await router.open(call()).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(MoongateError);
    expect((refused as MoongateError).code).toBe('too_many_requests');
    expect((refused as MoongateError).retryAfter).toBe(1);
    client.abort();
    await one.events.return?.();
    await two.events.return?.();
    expect(router.snapshot().map((c) => c.inFlight)).toEqual([0, 0]);
  });

  it('gives a stream firstTokenMs for its first event, a non-stream request (one answer when complete) the total time', async () => {
    vi.useFakeTimers();
    const slow: ScriptStep[] = [{ type: 'wait', ms: 300 }, ...OK];
    const timeouts = { firstTokenMs: 100, idleMs: 100, totalMs: 5_000 };
    const single = routingSchema.parse({ backoffMs: 0, maxAttempts: 1 });
    const streamed = channel('streamed', slow, { timeouts });
    const refused = new ChannelRouter([streamed], single).open(call(undefined, true)).catch((error: unknown) => error);
    expect(await settled(refused)).toMatchObject({
      code: 'timeout',
      message: 'the upstream sent no first token in time',
    });
    expect(streamed.provider.aborted).toHaveLength(1);
    const whole = channel('whole', slow, { timeouts });
    const router = new ChannelRouter([whole], single);
    const opening = router.open(call(undefined, false));
    // Past the first-token limit, within the total time: the non-stream request still waits.
    await vi.advanceTimersByTimeAsync(300);
    const opened = await opening;
    expect(opened.first.value).toEqual(OK[0]);
    await drain(opened.events);
    expect(whole.provider.aborted).toHaveLength(0);
    expect(router.snapshot()[0]).toMatchObject({ breaker: 'closed', inFlight: 0 });
  });

  it("aborts the attempt's upstream when the client leaves mid-stream, and releases the channel", async () => {
    const long = channel('long', [{ type: 'delta', index: 0, content: 'x' }, { type: 'wait', ms: 60_000 }, ...OK]);
    const router = new ChannelRouter([long], ROUTING);
    const client = new AbortController();
    const opened = await router.open(call(client.signal, true));
    const pending = opened.events.next();
    client.abort(new Error('gone'));
    await expect(pending).rejects.toThrow('gone');
    expect(long.provider.aborted).toHaveLength(1);
    expect(router.snapshot()[0]).toMatchObject({ breaker: 'closed', inFlight: 0 });
  });

  it('does not retry a bad request', async () => {
    const bad = channel('bad', [{ type: 'throw', error: new MoongateError('bad_request', 'no') }]);
    const other = channel('other', OK, { priority: 1 });
    const router = new ChannelRouter([bad, other], ROUTING);
    await expect(router.open(call())).rejects.toMatchObject({ code: 'bad_request' });
    expect(other.provider.calls).toHaveLength(0);
  });

  it('retries the same channel on a passing failure, up to maxAttempts', async () => {
    const flaky = channel('flaky', [{ type: 'throw', error: new MoongateError('api_error', 'boom') }]);
    const router = new ChannelRouter([flaky], routingSchema.parse({ backoffMs: 0, maxAttempts: 4 }));
    await expect(router.open(call())).rejects.toMatchObject({ code: 'api_error', message: 'boom' });
    expect(flaky.provider.calls).toHaveLength(4);
  });

  it("reads the upstream status on the error: a 401 moves on to another channel, a 503 may retry the same one", async () => {
    const rejected = new MoongateError('api_error', 'rejected', { upstreamStatus: 401 });
    const refusing = channel('refusing', [{ type: 'throw', error: rejected }]);
    const router = new ChannelRouter([refusing], routingSchema.parse({ backoffMs: 0, maxAttempts: 3 }));
    await expect(router.open(call())).rejects.toMatchObject({ code: 'api_error', message: 'rejected' });
    expect(refusing.provider.calls).toHaveLength(1);
    expect(router.snapshot()[0]).toMatchObject({ breaker: 'closed' });

    const failing = new MoongateError('api_error', 'down', { upstreamStatus: 503 });
    const down = channel('down', [{ type: 'throw', error: failing }]);
    const retrying = new ChannelRouter([down], routingSchema.parse({ backoffMs: 0, maxAttempts: 3 }));
    await expect(retrying.open(call())).rejects.toMatchObject({ message: 'down' });
    expect(down.provider.calls).toHaveLength(3);
  });

  it('stops retrying at once when the client leaves during the backoff', async () => {
    const flaky = channel('flaky', [{ type: 'throw', error: new MoongateError('api_error', 'boom') }]);
    const router = new ChannelRouter([flaky], routingSchema.parse({ backoffMs: 10_000, maxAttempts: 3 }));
    const client = new AbortController();
    vi.useFakeTimers();
    const opening = router.open(call(client.signal));
    opening.catch(() => undefined);
    // The first attempt has failed and the router sleeps its backoff (5 to 10 s).
    await vi.advanceTimersByTimeAsync(20);
    client.abort(new Error('the client left'));
    await expect(opening).rejects.toThrow('the client left');
    expect(flaky.provider.calls).toHaveLength(1);
  });

  it('starts no attempt once the budget is spent', async () => {
    vi.useFakeTimers();
    const slow = channel('slow', [{ type: 'wait', ms: 120 }, { type: 'throw', error: new MoongateError('api_error', 'late') }]);
    const router = new ChannelRouter([slow], routingSchema.parse({ backoffMs: 0, maxAttempts: 10, budgetMs: 100 }));
    expect(await settled(router.open(call()).catch((error: unknown) => error))).toMatchObject({ message: 'late' });
    expect(slow.provider.calls).toHaveLength(1);
  });

  it('answers model_not_found when no channel serves the model', async () => {
    const router = new ChannelRouter([channel('k2', OK, { models: ['kimi-k2-0905-preview'] })], ROUTING);
    await expect(router.open(call())).rejects.toMatchObject({ code: 'model_not_found' });
  });
});
