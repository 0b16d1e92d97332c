/**
 * The gateway's settlement contract, which billing relies on: every admitted request is
 * settled exactly once; a completed response is settled before its last byte (the JSON
 * body is returned, or [DONE] is written); a stream that fails or is left after it
 * started is billed for what it sent; a request refused before admission is never settled.
 */
import { describe, expect, it } from 'vitest';
import { MoongateError, type ChatEvent, type ChatMessage } from '../../src/contract/index.js';
import { ChatGateway, type ChatRouter } from '../../src/gateway/chat-gateway.js';
import type { Admitter, ChunkSink, HoldRequest, QuotaHold, RequestRecord, RequestResult } from '../../src/gateway/pipeline.js';
import type { Provider } from '../../src/providers/provider.js';
import { SimulatorProvider } from '../../src/providers/simulator/simulator-provider.js';
import { countPromptTokens, countTextTokens } from '../../src/tokens/count-tokens.js';
import { ScriptedProvider, type ScriptStep } from '../helpers/scripted-provider.js';

const CALLER = { credentialId: 'cred_1', personId: 'per_1', applicationId: 'app_1', serviceId: 'svc_1', global: false };

class RecordingAdmitter implements Admitter {
  readonly tickets: HoldRequest[] = [];
  readonly results: RequestResult[] = [];
  constructor(
    private readonly log: string[],
    private readonly refuse?: MoongateError,
  ) {}
  admit(ticket: HoldRequest): Promise<QuotaHold> {
    if (this.refuse !== undefined) return Promise.reject(this.refuse);
    this.tickets.push(ticket);
    return Promise.resolve({
      settle: (result) => {
        this.results.push(result);
        this.log.push(`settle:${result.outcome}`);
        return Promise.resolve();
      },
    });
  }
}

class RecordingSink implements ChunkSink {
  readonly chunks: string[] = [];
  closed = false;
  constructor(
    private readonly log: string[],
    private readonly closeAfter = Infinity,
  ) {}
  send(json: string): Promise<void> {
    this.chunks.push(json);
    this.log.push('chunk');
    if (this.chunks.length >= this.closeAfter) this.closed = true;
    return Promise.resolve();
  }
  done(): Promise<void> {
    this.log.push('done');
    return Promise.resolve();
  }
}

/** The gateway's router seam with one provider behind it, nothing else (no retries, no breaker). */
function singleProvider(provider: Provider, channel: string): ChatRouter {
  return {
    async open(call) {
      call.onAcceptance?.(false);
      const replies = provider.chat({ ...call, upstreamModel: call.model.id, onAccepted: () => call.onAcceptance?.(true) });
      const events = replies[Symbol.asyncIterator]();
      return { channel, first: await events.next(), events };
    },
  };
}

const delta = (content: string): ChatEvent => ({ type: 'delta', index: 0, content });
const REPLY: ScriptStep[] = [
  delta('Hello'),
  delta(' there'),
  { type: 'finish', index: 0, reason: 'stop' },
  { type: 'usage', promptTokens: 9, completionTokens: 2, cachedTokens: 0 },
];

function setup(script: ScriptStep[], refuse?: MoongateError) {
  const log: string[] = [];
  const admitter = new RecordingAdmitter(log, refuse);
  const records: RequestRecord[] = [];
  const provider = new ScriptedProvider(script);
  const gateway = new ChatGateway({
    authenticate: () => Promise.resolve(CALLER),
    router: singleProvider(provider, 'scripted-channel'),
    admitter,
    observers: [(record) => records.push(record)],
  });
  const controller = new AbortController();
  const handle = (body: Record<string, unknown>) =>
    gateway.handle({
      traceId: 'trace-1',
      pass: { caller: CALLER, admittedAt: 0 },
      body: { model: 'kimi-k2-0905-preview', messages: [{ role: 'user', content: 'Hello' }], ...body },
      signal: controller.signal,
    });
  return { log, admitter, records, handle, controller, provider };
}

describe('gateway settlement', () => {
  it('settles a JSON response once, with the upstream usage, before returning it', async () => {
    const { admitter, records, handle } = setup(REPLY);
    const outcome = await handle({});
    expect(outcome.kind).toBe('json');
    expect(admitter.tickets).toHaveLength(1);
    expect(admitter.tickets[0]?.promptTokens).toBe(9);
    expect(admitter.results).toHaveLength(1);
    expect(admitter.results[0]).toMatchObject({
      outcome: 'completed',
      usage: { prompt_tokens: 9, completion_tokens: 2 },
      error: null,
      channel: 'scripted-channel',
      stream: false,
    });
    expect(admitter.results[0]?.ttftMs).toBeTypeOf('number');
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ traceId: 'trace-1', model: 'kimi-k2-0905-preview', outcome: 'completed' });
  });

  it('settles a completed stream after its usage chunk and before [DONE]', async () => {
    const { log, admitter, handle } = setup(REPLY);
    const outcome = await handle({ stream: true });
    if (outcome.kind !== 'stream') throw new Error('expected a stream');
    await outcome.pipe(new RecordingSink(log));
    expect(log.slice(-3)).toEqual(['chunk', 'settle:completed', 'done']);
    expect(admitter.results).toHaveLength(1);
    expect(admitter.results[0]?.usage?.completion_tokens).toBe(2);
  });

  it('settles a request that fails before its first event as failed, with nothing to bill', async () => {
    const { admitter, records, handle } = setup([{ type: 'throw', error: new MoongateError('timeout') }]);
    await expect(handle({ stream: true })).rejects.toMatchObject({ code: 'timeout' });
    expect(admitter.results).toEqual([expect.objectContaining({ outcome: 'failed', usage: null, ttftMs: null })]);
    expect(admitter.results[0]?.error?.code).toBe('timeout');
    expect(records).toHaveLength(1);
  });

  it('bills what a stream sent before it failed, then reports the failure in-band', async () => {
    const { log, admitter, handle } = setup([delta('Hello'), delta(' world'), { type: 'throw', error: new MoongateError('api_error', 'upstream cut') }]);
    const outcome = await handle({ stream: true });
    if (outcome.kind !== 'stream') throw new Error('expected a stream');
    const sink = new RecordingSink(log);
    await expect(outcome.pipe(sink)).rejects.toThrow('upstream cut');
    expect(admitter.results).toHaveLength(1);
    const [result] = admitter.results;
    expect(result?.outcome).toBe('failed');
    expect(result?.error?.code).toBe('api_error');
    expect(result?.usage?.prompt_tokens).toBe(9);
    expect(result?.usage?.completion_tokens).toBeGreaterThan(0);
    // Settled before the error event and the terminator reach the client.
    expect(log.indexOf('settle:failed')).toBeLessThan(log.lastIndexOf('chunk'));
    expect(JSON.parse(sink.chunks.at(-1) ?? '{}')).toMatchObject({ success: false, error: { code: 'api_error' } });
  });

  it('bills a stream the client left for what it was sent', async () => {
    const { log, admitter, handle } = setup([delta('one'), delta(' two'), delta(' three'), ...REPLY]);
    const outcome = await handle({ stream: true });
    if (outcome.kind !== 'stream') throw new Error('expected a stream');
    await outcome.pipe(new RecordingSink(log, 2));
    expect(admitter.results).toHaveLength(1);
    expect(admitter.results[0]?.outcome).toBe('aborted');
    expect(admitter.results[0]?.usage?.completion_tokens).toBeGreaterThan(0);
    expect(log).not.toContain('done');
  });

  it('counts every piece of a long reply when the upstream reports no usage, stream and non-stream alike', async () => {
    const words = Array.from({ length: 300 }, (_, i) => ` word${i % 7}`);
    const script: ScriptStep[] = [
      ...words.map((word, i) => (i % 3 === 0 ? { type: 'delta' as const, index: 0, reasoning: word } : delta(word))),
      { type: 'finish', index: 0, reason: 'stop' },
    ];
    const expected = countTextTokens(words.join(''));
    const json = setup(script);
    await json.handle({});
    expect(json.admitter.results[0]?.usage?.completion_tokens).toBe(expected);
    const streamed = setup(script);
    const outcome = await streamed.handle({ stream: true });
    if (outcome.kind !== 'stream') throw new Error('expected a stream');
    await outcome.pipe(new RecordingSink(streamed.log));
    expect(streamed.admitter.results[0]?.usage?.completion_tokens).toBe(expected);
  });

  describe('early ends (docs/billing.md): once accepted, the prompt and what was generated, stream or not', () => {
    // 9 prompt tokens ("Hello"), then three pieces of text, then the upstream stalls.
    const PIECES = ['one', ' two', ' three'];
    const stalled: ScriptStep[] = [{ type: 'accept' }, ...PIECES.map(delta), { type: 'wait', ms: 60_000 }, ...REPLY];
    const generatedTokens = countTextTokens(PIECES.join(''));

    /** Runs the script until `pieces` deltas were handed out, then the client leaves. */
    async function cutAfter(stream: boolean, script: ScriptStep[], pieces: number) {
      const run = setup(script);
      run.provider.onYield = (count) => {
        if (count === pieces) run.controller.abort(new Error('the client closed the connection'));
      };
      const outcome = handleOrError(run.handle({ stream }));
      const result = await outcome;
      if (result !== 'rejected' && result.kind === 'stream') await result.pipe(new RecordingSink(run.log)).catch(() => undefined);
      expect(run.admitter.results).toHaveLength(1);
      return run.admitter.results[0] as RequestResult;
    }
    const handleOrError = (p: ReturnType<ReturnType<typeof setup>['handle']>) => p.catch(() => 'rejected' as const);

    it('a non-stream request the client left mid-generation bills the prompt and every token generated', async () => {
      const result = await cutAfter(false, stalled, 3);
      expect(result.outcome).toBe('aborted');
      expect(result.usage).toMatchObject({ prompt_tokens: 9, completion_tokens: generatedTokens });
    });

    it('a stream and a non-stream request cut at the same moment are billed the same', async () => {
      const plain = await cutAfter(false, stalled, 2);
      const streamed = await cutAfter(true, stalled, 2);
      expect(streamed.outcome).toBe('aborted');
      expect(streamed.usage).toEqual(plain.usage);
      expect(plain.usage?.completion_tokens).toBe(countTextTokens('one two'));
    });

    it('a request the client left during prefill (accepted, no token yet) bills the prompt, stream or not', async () => {
      const prefill: ScriptStep[] = [{ type: 'accept' }, { type: 'wait', ms: 60_000 }, ...REPLY];
      for (const stream of [false, true]) {
        const run = setup(prefill);
        run.provider.onAccept = () => queueMicrotask(() => run.controller.abort(new Error('gone')));
        await expect(run.handle({ stream })).rejects.toThrow();
        expect(run.admitter.results).toEqual([expect.objectContaining({ outcome: 'aborted', usage: expect.objectContaining({ prompt_tokens: 9, completion_tokens: 0 }) })]);
      }
    });

    it('a request the client left before the upstream accepted it bills nothing', async () => {
      const run = setup([{ type: 'wait', ms: 60_000 }, { type: 'accept' }, ...REPLY]);
      run.provider.onCall = () => queueMicrotask(() => run.controller.abort(new Error('gone')));
      await expect(run.handle({})).rejects.toThrow();
      expect(run.admitter.results).toEqual([expect.objectContaining({ outcome: 'aborted', usage: null })]);
    });

    it('an upstream cut or a timeout after acceptance bills the prompt and what was generated, with the error', async () => {
      for (const error of [new MoongateError('api_error', 'upstream cut'), new MoongateError('timeout')]) {
        const cut: ScriptStep[] = [{ type: 'accept' }, ...PIECES.map(delta), { type: 'throw', error }];
        const plain = setup(cut);
        await expect(plain.handle({})).rejects.toBe(error);
        expect(plain.admitter.results[0]).toMatchObject({ outcome: 'failed', usage: { prompt_tokens: 9, completion_tokens: generatedTokens } });
        expect(plain.admitter.results[0]?.error?.code).toBe(error.code);
        const prefill = setup([{ type: 'accept' }, { type: 'throw', error }]);
        await expect(prefill.handle({ stream: true })).rejects.toBe(error);
        expect(prefill.admitter.results[0]).toMatchObject({ outcome: 'failed', usage: { prompt_tokens: 9, completion_tokens: 0 } });
      }
    });

    it("the upstream's own usage wins when it sent one before the end", async () => {
      const withUsage: ScriptStep[] = [{ type: 'accept' }, delta('one'), { type: 'usage', promptTokens: 12, completionTokens: 40, cachedTokens: 3 }, { type: 'throw', error: new MoongateError('api_error', 'cut') }];
      const run = setup(withUsage);
      await expect(run.handle({})).rejects.toThrow('cut');
      expect(run.admitter.results[0]?.usage).toMatchObject({ prompt_tokens: 12, completion_tokens: 40, prompt_tokens_details: { cached_tokens: 3 } });
    });
  });

  it('never settles a request that admission refused', async () => {
    const { admitter, records, handle } = setup(REPLY, new MoongateError('used_up'));
    await expect(handle({})).rejects.toMatchObject({ code: 'used_up' });
    expect(admitter.results).toHaveLength(0);
    expect(records).toEqual([expect.objectContaining({ outcome: 'failed', error: expect.objectContaining({ code: 'used_up' }) })]);
  });

  it('holds for and sends upstream the model default cap when max_tokens is absent, so nothing beyond the hold is generated', async () => {
    const absent = setup(REPLY);
    await absent.handle({});
    expect(absent.provider.calls[0]?.request.max_tokens).toBe(8_192);
    expect(absent.admitter.tickets[0]?.request.max_tokens).toBe(8_192);
    const given = setup(REPLY);
    await given.handle({ max_tokens: 100 });
    expect(given.provider.calls[0]?.request.max_tokens).toBe(100);
  });

  it('holds a prompt whose bound exceeds the context at the context; when the upstream refuses the default cap, sends the cap the count leaves', async () => {
    // kimi-k2-0711-preview: 131,072 tokens of context, a default cap of 8,192. The simulator
    // refuses a prompt plus max_tokens beyond the context, as Moonshot and vLLM do.
    const simulator = new SimulatorProvider({ ttftMs: 0, tokensPerSecond: 0 });
    const sent: number[] = [];
    const upstream: Provider = {
      kind: 'simulator',
      chat: (call) => {
        sent.push(call.request.max_tokens ?? 0);
        return simulator.chat(call);
      },
    };
    const admitter = new RecordingAdmitter([]);
    const gateway = new ChatGateway({ authenticate: () => Promise.resolve(CALLER), router: singleProvider(upstream, 'sim'), admitter });
    const handle = (messages: ChatMessage[], extra: Record<string, unknown> = {}) =>
      gateway.handle({ traceId: 't', pass: { caller: CALLER, admittedAt: 0 }, body: { model: 'kimi-k2-0711-preview', messages, ...extra }, signal: new AbortController().signal });

    const near: ChatMessage[] = [{ role: 'user', content: 'hello '.repeat(126_000) }];
    const counted = countPromptTokens(near);
    const left = 131_072 - counted;
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(8_192);
    await handle(near);
    // Held at the context (the bound is about 756k) with the default cap: not counted before.
    expect(admitter.tickets.map((t) => [t.promptTokens, t.request.max_tokens])).toEqual([[131_072, 8_192]]);
    // The default cap was refused; the cap the count leaves was taken, within that one hold.
    expect(sent).toEqual([8_192, left]);
    expect(admitter.results[0]?.usage?.prompt_tokens).toBe(counted);

    // Given max_tokens is the client's: refused by the upstream as it is, never lowered.
    sent.length = 0;
    await expect(handle(near, { max_tokens: left + 1 })).rejects.toMatchObject({ code: 'bad_request', message: expect.stringMatching(/exceeds kimi-k2-0711-preview's context/) });
    expect(sent).toEqual([left + 1]);
    // A prompt that does not fit at all: the upstream refuses it, and the count confirms it.
    sent.length = 0;
    const over: ChatMessage[] = [{ role: 'user', content: 'hello '.repeat(140_000) }];
    await expect(handle(over)).rejects.toMatchObject({ code: 'bad_request', message: expect.stringMatching(/exceeds kimi-k2-0711-preview's context of 131072 tokens/) });
    expect(sent).toEqual([8_192]);
  });

  it('never admits a request that fails validation', async () => {
    const { admitter, handle } = setup(REPLY);
    await expect(handle({ model: 'gpt-4' })).rejects.toMatchObject({ code: 'model_not_found' });
    expect(admitter.tickets).toHaveLength(0);
  });
});
