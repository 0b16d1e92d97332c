/**
 * The prompt's figure (src/gateway/prompt-tokens.ts, src/tokens/count-cache.ts): long texts
 * counted once per process, a long prompt held on its UTF-8 upper bound where that decides
 * the same, the exact count when a hold on the bound is refused, and the exact count billed
 * when the upstream reports no usage.
 */
import { describe, expect, it } from 'vitest';
import { MoongateError, findModel, type ChatEvent, type ChatMessage, type KimiModel } from '../../src/contract/index.js';
import { ChatGateway, type ChatRouter } from '../../src/gateway/chat-gateway.js';
import type { Admitter, HoldRequest, QuotaHold, RequestResult } from '../../src/gateway/pipeline.js';
import { BOUND_FROM_TOKENS, PromptFigure } from '../../src/gateway/prompt-tokens.js';
import { TextCountCache } from '../../src/tokens/count-cache.js';
import { countPromptTokens, countTextTokens, promptTokenBound } from '../../src/tokens/count-tokens.js';
import { ScriptedProvider, type ScriptStep } from '../helpers/scripted-provider.js';

const MODEL_ID = 'kimi-k2-0905-preview';
const model = (id = MODEL_ID): KimiModel => {
  const found = findModel(id);
  if (found === undefined) throw new Error(`no model ${id}`);
  return found;
};

/** Prose, code, CJK, emoji and whitespace: texts whose bytes per token differ. */
const SAMPLES = [
  'The quick brown fox jumps over the lazy dog. ',
  'export function f(a: number): number {\n  return a * 2; // double\n}\n',
  '안녕하세요, 世界! これはテストです。',
  '😀🎉 emoji 👍🏽 and flags 🇫🇷 ',
  ' \t\n\u00a0\u3000',
  'x'.repeat(300),
];

describe('TextCountCache', () => {
  it('counts a long text once and answers the same count after', () => {
    let counted = 0;
    const cache = new TextCountCache((text) => {
      counted++;
      return countTextTokens(text);
    });
    const text = SAMPLES.join('').repeat(100);
    expect(cache.count(text)).toBe(countTextTokens(text));
    // Another string with the same characters (as the next request's body would hold).
    expect(cache.count(text.slice(0, 10) + text.slice(10))).toBe(countTextTokens(text));
    expect(counted).toBe(1);
    expect(cache.stats()).toEqual({ size: 1, hits: 1, misses: 1 });
    expect(cache.count(`${text}!`)).toBe(countTextTokens(`${text}!`));
    expect(counted).toBe(2);
  });

  it('counts a short text every time, and keeps nothing for it', () => {
    let counted = 0;
    const cache = new TextCountCache((text) => {
      counted++;
      return text.length;
    }, 10, 100);
    cache.count('short');
    cache.count('short');
    expect(counted).toBe(2);
    expect(cache.stats().size).toBe(0);
  });

  it('keeps at most maxEntries counts, dropping the least recently used', () => {
    const counted: string[] = [];
    const cache = new TextCountCache((text) => {
      counted.push(text.charAt(0));
      return text.length;
    }, 2, 4);
    const long = (c: string): string => c.repeat(8);
    cache.count(long('a'));
    cache.count(long('b'));
    cache.count(long('a')); // a is now the most recent
    cache.count(long('c')); // evicts b
    cache.count(long('a'));
    cache.count(long('b'));
    expect(counted).toEqual(['a', 'b', 'c', 'b']);
    expect(cache.stats().size).toBe(2);
  });
});

describe('promptTokenBound', () => {
  it('is never below the count, whatever the text', () => {
    for (const sample of SAMPLES) {
      for (const repeat of [1, 7, 200]) {
        const messages: ChatMessage[] = [
          { role: 'system', content: sample.repeat(repeat) },
          { role: 'assistant', content: null, reasoning_content: sample, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: sample } }] },
          { role: 'tool', content: sample, tool_call_id: 'c1' },
          { role: 'user', content: sample.repeat(repeat), name: 'ann' },
        ];
        const tools = [{ type: 'function' as const, function: { name: 'f', description: sample } }];
        expect(promptTokenBound(messages, tools)).toBeGreaterThanOrEqual(countPromptTokens(messages, tools));
      }
    }
  });
});

describe('PromptFigure', () => {
  const long = (bytes: number): ChatMessage[] => [{ role: 'user', content: SAMPLES[1]!.repeat(Math.ceil(bytes / SAMPLES[1]!.length)) }];

  it('counts a short prompt exactly', () => {
    const messages: ChatMessage[] = [{ role: 'user', content: 'Hello' }];
    const figure = PromptFigure.of({ model: MODEL_ID, messages, stream: false, n: 1, response_format: 'text' }, model());
    expect(figure).toMatchObject({ isExact: true, tokens: 9 });
    expect(figure.count()).toBe(9);
  });

  it('takes the bound for a long prompt that leaves room for the cap, and still counts exactly when asked', () => {
    const messages = long(BOUND_FROM_TOKENS * 4);
    const figure = PromptFigure.of({ model: MODEL_ID, messages, stream: false, n: 1, response_format: 'text' }, model());
    expect(figure.isExact).toBe(false);
    expect(figure.tokens).toBe(promptTokenBound(messages));
    expect(figure.count()).toBe(countPromptTokens(messages));
    expect(figure.tokens).toBeGreaterThan(figure.count());
  });

  it('does not count when the bound and the cap would not fit the context: the figure is the bound, at most the context', () => {
    const context = model().contextTokens;
    // The bound fits, but not with max_tokens on top.
    const messages = long(context / 2);
    const bound = promptTokenBound(messages);
    const maxTokens = context - bound + 1;
    const figure = PromptFigure.of({ model: MODEL_ID, messages, stream: false, n: 1, response_format: 'text', max_tokens: maxTokens }, model());
    expect(figure).toMatchObject({ kind: 'context', isExact: false, tokens: bound });
    // The upstream decides whether it fits: no refusal here, and max_tokens is sent as asked.
    expect(() => figure.checkContext()).not.toThrow();
    expect(figure.completionCap()).toBe(maxTokens);
    // A bound beyond the context is held at the context: no upstream can bill more prompt.
    const huge = PromptFigure.of({ model: MODEL_ID, messages: long(context * 2), stream: false, n: 1, response_format: 'text' }, model());
    expect(huge).toMatchObject({ kind: 'context', tokens: context });
    // Without max_tokens, the model's default cap goes upstream (nothing to lower it by).
    expect(huge.completionCap()).toBe(model().defaultMaxTokens);
  });

  it('on its exact count, refuses a prompt that does not fit and lowers the default cap to what the context leaves', () => {
    const m = model();
    // Exactly the tokens that leave 100 of the context, as the count finds them.
    const filler = (tokens: number): ChatMessage[] => [{ role: 'user', content: 'hello '.repeat(tokens) }];
    const base = countPromptTokens(filler(0));
    const near = filler(m.contextTokens - 100 - base);
    const figure = PromptFigure.of({ model: MODEL_ID, messages: near, stream: false, n: 1, response_format: 'text' }, m);
    expect(figure.kind).toBe('context');
    const exact = figure.exact();
    const counted = countPromptTokens(near);
    // Within a token of the 100 aimed at (the last space may count on its own).
    expect(m.contextTokens - counted).toBeGreaterThanOrEqual(99);
    expect(exact).toMatchObject({ kind: 'exact', tokens: counted });
    expect(exact.completionCap()).toBe(m.contextTokens - counted);
    const over = PromptFigure.of({ model: MODEL_ID, messages: near, stream: false, n: 1, response_format: 'text', max_tokens: 101 }, m).exact();
    expect(() => over.checkContext()).toThrow(/exceeds kimi-k2-0905-preview's context of 262144 tokens/);
  });

  it('refuses max_tokens beyond the context without counting', () => {
    const m = model();
    const figure = PromptFigure.of({ model: MODEL_ID, messages: long(BOUND_FROM_TOKENS * 4), stream: false, n: 1, response_format: 'text', max_tokens: m.contextTokens + 1 }, m);
    expect(figure.kind).toBe('context');
    expect(() => figure.checkContext()).toThrow(/max_tokens must be <= 262144/);
  });
});

/** Refuses (used_up) any hold whose prompt is over `maxPrompt` tokens, as a low balance would. */
class ThriftyAdmitter implements Admitter {
  readonly asked: number[] = [];
  readonly results: RequestResult[] = [];
  constructor(private readonly maxPrompt: number) {}
  admit(ticket: HoldRequest): Promise<QuotaHold> {
    this.asked.push(ticket.promptTokens);
    if (ticket.promptTokens > this.maxPrompt) return Promise.reject(new MoongateError('used_up'));
    return Promise.resolve({ settle: (result) => Promise.resolve(void this.results.push(result)) });
  }
}

function gatewayWith(admitter: Admitter, script: ScriptStep[]) {
  const provider = new ScriptedProvider(script);
  const router: ChatRouter = {
    async open(call) {
      const events = provider.chat({ ...call, upstreamModel: call.model.id })[Symbol.asyncIterator]();
      return { channel: 'scripted', first: await events.next(), events };
    },
  };
  const gateway = new ChatGateway({ authenticate: () => Promise.reject(new Error('unused')), router, admitter });
  const caller = { credentialId: 'c', personId: 'p', applicationId: 'a', serviceId: 's', global: false };
  const handle = (messages: ChatMessage[]) =>
    gateway.handle({ traceId: 't', pass: { caller, admittedAt: 0 }, body: { model: MODEL_ID, messages }, signal: new AbortController().signal });
  return { handle, provider };
}

const NO_USAGE: ScriptStep[] = [{ type: 'delta', index: 0, content: 'Hi' } as ChatEvent, { type: 'finish', index: 0, reason: 'stop' }];

describe('the gateway with a long prompt', () => {
  const messages: ChatMessage[] = [{ role: 'user', content: SAMPLES[0]!.repeat(1000) }];
  const exact = countPromptTokens(messages);
  const bound = promptTokenBound(messages);

  it('holds on the bound, and bills the exact count when the upstream reports no usage', async () => {
    const admitter = new ThriftyAdmitter(Infinity);
    const { handle, provider } = gatewayWith(admitter, NO_USAGE);
    await handle(messages);
    expect(admitter.asked).toEqual([bound]);
    expect(provider.calls[0]?.promptTokens).toBe(bound);
    expect(admitter.results[0]?.usage?.prompt_tokens).toBe(exact);
  });

  it('asks again with the exact count when the hold on the bound is refused for the balance', async () => {
    const admitter = new ThriftyAdmitter(exact);
    const { handle } = gatewayWith(admitter, NO_USAGE);
    const answer = await handle(messages);
    expect(answer.kind).toBe('json');
    expect(admitter.asked).toEqual([bound, exact]);
    expect(admitter.results).toHaveLength(1);
  });

  it('refuses, once asked with the exact count too, a balance too low for either', async () => {
    const admitter = new ThriftyAdmitter(exact - 1);
    const { handle, provider } = gatewayWith(admitter, NO_USAGE);
    await expect(handle(messages)).rejects.toMatchObject({ code: 'used_up' });
    expect(admitter.asked).toEqual([bound, exact]);
    expect(provider.calls).toHaveLength(0);
  });
});
