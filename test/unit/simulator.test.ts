/**
 * The built-in simulator, driven directly as a Provider: events are collected from
 * `chat()` and checked against the contract in SPEC.md and DESIGN.md ("The simulator").
 */
import { decode, encode } from 'gpt-tokenizer/encoding/o200k_base';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { findModel, parseChatRequest, type ChatEvent, type DeltaEvent, type FinishReason } from '../../src/contract/index.js';
import { SIMULATION_NOTICE, SimulatorProvider } from '../../src/providers/simulator/index.js';
import type { ProviderCall } from '../../src/providers/provider.js';
import { SeededRandom } from '../../src/providers/simulator/seeded-random.js';
import { tokenUnits } from '../../src/providers/simulator/token-units.js';
import { countPromptTokens, countTextTokens } from '../../src/tokens/count-tokens.js';

const UNPACED = { ttftMs: 0, tokensPerSecond: 0 };

function callFor(body: Record<string, unknown>, signal: AbortSignal = new AbortController().signal): ProviderCall {
  const request = parseChatRequest(body);
  const model = findModel(request.model);
  if (model === undefined) throw new Error(`unknown model ${request.model}`);
  return { request, model, upstreamModel: model.id, promptTokens: countPromptTokens(request.messages, request.tools), signal };
}

async function collect(body: Record<string, unknown>, settings = UNPACED): Promise<ChatEvent[]> {
  const events: ChatEvent[] = [];
  for await (const event of new SimulatorProvider(settings).chat(callFor(body))) events.push(event);
  return events;
}

interface Choice {
  reasoning: string;
  content: string;
  args: string;
  toolDeltas: NonNullable<DeltaEvent['toolCalls']>[number][];
  deltas: DeltaEvent[];
  finish: FinishReason | undefined;
}

function choices(events: ChatEvent[]): Choice[] {
  const out: Choice[] = [];
  for (const e of events) {
    if (e.type === 'usage') continue;
    const c = (out[e.index] ??= { reasoning: '', content: '', args: '', toolDeltas: [], deltas: [], finish: undefined });
    if (e.type === 'finish') {
      expect(c.finish, `second finish for choice ${e.index}`).toBeUndefined();
      c.finish = e.reason;
      continue;
    }
    expect(c.finish, `delta after finish for choice ${e.index}`).toBeUndefined();
    c.deltas.push(e);
    c.reasoning += e.reasoning ?? '';
    c.content += e.content ?? '';
    for (const t of e.toolCalls ?? []) {
      c.toolDeltas.push(t);
      c.args += t.arguments ?? '';
    }
  }
  return out;
}

function usage(events: ChatEvent[]): { promptTokens?: number; completionTokens?: number } {
  const usages = events.filter((e) => e.type === 'usage');
  expect(usages).toHaveLength(1);
  expect(events[events.length - 1]?.type).toBe('usage'); // after every finish
  return usages[0] as { promptTokens?: number; completionTokens?: number };
}

const WEATHER_TOOLS = [
  {
    type: 'function',
    function: {
      name: 'search_web',
      description: 'Search the web for pages',
      parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] },
    },
  },
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Get the weather forecast for a city',
      parameters: {
        type: 'object',
        properties: {
          city: { type: 'string', minLength: 1 },
          days: { type: 'integer', minimum: 1, maximum: 7 },
          unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
        },
        required: ['city', 'days'],
        additionalProperties: false,
      },
    },
  },
];

function checkWeatherArgs(json: string): void {
  const args = JSON.parse(json) as Record<string, unknown>;
  expect(typeof args.city).toBe('string');
  expect(Number.isInteger(args.days)).toBe(true);
  expect(args.days).toBeGreaterThanOrEqual(1);
  expect(args.days).toBeLessThanOrEqual(7);
  if ('unit' in args) expect(['celsius', 'fahrenheit']).toContain(args.unit);
  expect(Object.keys(args).every((k) => ['city', 'days', 'unit'].includes(k))).toBe(true);
}

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('replies', () => {
  test('a thinking model streams all of its reasoning, then its content', async () => {
    const events = await collect({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'What model are you?' }] });
    const [c] = choices(events);
    const kinds = c!.deltas.map((d) => (d.reasoning !== undefined ? 'r' : d.content !== undefined ? 'c' : '?'));
    expect(kinds.join('')).toMatch(/^r+c+$/);
    expect(c!.reasoning.length).toBeGreaterThan(100);
    expect(c!.finish).toBe('stop');
  });

  test('a model that does not think streams content only', async () => {
    const events = await collect({ model: 'kimi-k2-turbo-preview', messages: [{ role: 'user', content: 'What model are you?' }] });
    const [c] = choices(events);
    expect(c!.deltas.every((d) => d.reasoning === undefined && d.content !== undefined)).toBe(true);
    expect(c!.content.length).toBeGreaterThan(50);
  });

  test('the text says it is simulated and quotes the user', async () => {
    const events = await collect({ model: 'kimi-k2-0905-preview', messages: [{ role: 'user', content: 'Tell me about lunar tides' }] });
    const [c] = choices(events);
    expect(c!.content).toContain(SIMULATION_NOTICE);
    expect(c!.content).toContain('Tell me about lunar tides');
  });

  test('usage counts exactly the o200k tokens of the streamed text, in chunks of 1 to 3 tokens', async () => {
    for (const model of ['kimi-k2.5', 'kimi-k2-0711-preview']) {
      const events = await collect({ model, messages: [{ role: 'user', content: 'Hello' }] });
      const [c] = choices(events);
      // Reasoning and content are tokenised as two texts, so each counts on its own.
      const expected = countTextTokens(c!.reasoning) + countTextTokens(c!.content);
      expect(usage(events).completionTokens).toBe(expected);
      // Chunks of 1-3 tokens: between expected/3 and expected deltas.
      expect(c!.deltas.length).toBeGreaterThanOrEqual(Math.ceil(expected / 3));
      expect(c!.deltas.length).toBeLessThanOrEqual(expected);
      expect(c!.deltas.length).toBeLessThan(expected); // some chunks carry more than one token
    }
  });

  test('chunks fall on o200k token boundaries', async () => {
    const events = await collect({ model: 'kimi-k2-turbo-preview', messages: [{ role: 'user', content: 'Hello there' }], seed: 3 });
    const [c] = choices(events);
    const ids = encode(c!.content);
    const boundaries = new Set<number>();
    for (let i = 0, length = 0; i < ids.length; i++) boundaries.add((length += decode([ids[i] as number]).length));
    let at = 0;
    for (const d of c!.deltas) {
      at += (d.content ?? '').length;
      expect(boundaries.has(at)).toBe(true);
    }
  });

  test('prompt tokens follow Kimi’s template: 9 for "Hello", 28 for the seed’s two-message example', async () => {
    const hello = await collect({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }] });
    expect(usage(hello).promptTokens).toBe(9);
    const two = await collect({
      model: 'kimi-k2.5',
      messages: [
        { role: 'assistant', content: 'Hello! How can I help you today?' },
        { role: 'user', content: 'What model are you?' },
      ],
    });
    expect(usage(two).promptTokens).toBe(28);
  });

  test('Korean and emoji input never produce a broken character', async () => {
    const content = '안녕하세요! 오늘 서울 날씨 어때요? 👨‍👩‍👧 한국어로 대답해 주세요 \ud800';
    for (let seed = 1; seed <= 5; seed++) {
      const events = await collect({ model: 'kimi-k2.5', messages: [{ role: 'user', content }], seed });
      const [c] = choices(events);
      for (const d of c!.deltas) {
        const text = d.reasoning ?? d.content ?? '';
        expect(text).not.toContain('\uFFFD');
        // Well-formed UTF-16 survives a UTF-8 round trip unchanged: no split surrogate pair.
        expect(Buffer.from(text, 'utf8').toString('utf8')).toBe(text);
      }
      expect(c!.content).toContain('안녕하세요!');
      expect(usage(events).completionTokens).toBe(countTextTokens(c!.reasoning) + countTextTokens(c!.content));
    }
  });
});

describe('token units', () => {
  // tokenUnits tokenises sentence by sentence (for caching); the result must still be
  // exactly the whole text's o200k tokenisation.
  const PIECES = [
    'Hello.', ' World', '안녕하세요!', ' 서울', ' 👨‍👩‍👧', ' (note)', ' “quoted”', ' it’s', " don't", ' 12345', ' x', '\n\n- item', ':',
    ' Über', ' naïve', ' 東京', ';', '?', ' ', '  ', ' A.', ' <|endoftext|>', ' e\u0301', ' 1.5', '...', ' 🎉🎉',
  ];
  test('units concatenate to the text and count exactly its tokens', () => {
    const random = new SeededRandom(99);
    for (let i = 0; i < 3000; i++) {
      let text = '';
      for (let j = random.int(1, 12); j > 0; j--) text += random.pick(PIECES);
      const units = tokenUnits(text);
      expect(units.map((u) => u.text).join('')).toBe(text);
      expect(units.reduce((sum, u) => sum + u.tokens, 0), JSON.stringify(text)).toBe(encode(text, { disallowedSpecial: new Set() }).length);
      for (const u of units) expect(u.text).not.toContain('\uFFFD');
    }
  });
});

describe('limits', () => {
  test('max_tokens=5 ends a thinking reply during its reasoning, with finish length and exactly 5 tokens', async () => {
    const body = { model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }], seed: 11 };
    const full = choices(await collect(body))[0]!;
    const events = await collect({ ...body, max_tokens: 5 });
    const [c] = choices(events);
    expect(c!.finish).toBe('length');
    expect(usage(events).completionTokens).toBe(5);
    expect(c!.content).toBe('');
    expect(c!.reasoning).toBe(decode(encode(full.reasoning).slice(0, 5)));
  });

  test('max_tokens cuts the content of a model that does not think', async () => {
    const body = { model: 'kimi-k2-0905-preview', messages: [{ role: 'user', content: 'Hello' }], seed: 12 };
    const full = choices(await collect(body))[0]!;
    const events = await collect({ ...body, max_tokens: 5 });
    const [c] = choices(events);
    expect(c!.finish).toBe('length');
    expect(usage(events).completionTokens).toBe(5);
    expect(c!.content).toBe(decode(encode(full.content).slice(0, 5)));
  });

  test('max_tokens past the reasoning leaves part of the content', async () => {
    const body = { model: 'kimi-k2-thinking', messages: [{ role: 'user', content: 'Hello' }], seed: 13 };
    const full = choices(await collect(body))[0]!;
    const reasoningTokens = countTextTokens(full.reasoning);
    const events = await collect({ ...body, max_tokens: reasoningTokens + 4 });
    const [c] = choices(events);
    expect(c!.reasoning).toBe(full.reasoning);
    expect(c!.content).toBe(decode(encode(full.content).slice(0, 4)));
    expect(c!.finish).toBe('length');
    expect(usage(events).completionTokens).toBe(reasoningTokens + 4);
  });

  test('a max_tokens the reply fits in finishes with stop', async () => {
    const events = await collect({ model: 'kimi-k2-0905-preview', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 4000 });
    expect(choices(events)[0]!.finish).toBe('stop');
  });

  test('a stop string cuts the content before its first occurrence and finishes with stop', async () => {
    const body = { model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }], seed: 21 };
    const full = choices(await collect(body))[0]!;
    expect(full.content).toContain('moongate');
    const events = await collect({ ...body, stop: ['zzz-never', 'moongate'] });
    const [c] = choices(events);
    expect(c!.content).toBe(full.content.slice(0, full.content.indexOf('moongate')));
    expect(c!.content).not.toContain('moongate');
    // Stop strings apply to the content; the reasoning is a separate channel.
    expect(c!.reasoning).toBe(full.reasoning);
    expect(c!.finish).toBe('stop');
    expect(usage(events).completionTokens).toBe(countTextTokens(c!.reasoning) + countTextTokens(c!.content));
  });
});

describe('choices and formats', () => {
  test('n=3 gives three different texts, interleaved round-robin, each with its own finish', async () => {
    const events = await collect({ model: 'kimi-k2-turbo-preview', messages: [{ role: 'user', content: 'Hello' }], n: 3 });
    const cs = choices(events);
    expect(cs).toHaveLength(3);
    expect(new Set(cs.map((c) => c.content)).size).toBe(3);
    for (const c of cs) {
      expect(c.finish).toBe('stop');
      expect(c.content).toContain(SIMULATION_NOTICE);
    }
    expect(events.filter((e) => e.type === 'finish')).toHaveLength(3);
    expect(events.slice(0, 6).map((e) => (e.type === 'usage' ? -1 : e.index))).toEqual([0, 1, 2, 0, 1, 2]);
    const total = cs.reduce((sum, c) => sum + countTextTokens(c.content), 0);
    expect(usage(events).completionTokens).toBe(total);
  });

  test('JSON mode answers with exactly one JSON object', async () => {
    for (const model of ['kimi-k2.5', 'kimi-k2-turbo-preview']) {
      for (let seed = 1; seed <= 4; seed++) {
        const events = await collect({
          model,
          messages: [{ role: 'user', content: 'List three "fruits" as JSON' }],
          response_format: { type: 'json_object' },
          seed,
        });
        const [c] = choices(events);
        const value = JSON.parse(c!.content) as unknown;
        expect(typeof value === 'object' && value !== null && !Array.isArray(value)).toBe(true);
        expect(value).toMatchObject({ simulated: true, model });
      }
    }
  });

  test('partial mode continues the assistant prefix without repeating it', async () => {
    const prefix = 'The three primary colours are';
    const events = await collect({
      model: 'kimi-k2-0905-preview',
      messages: [
        { role: 'user', content: 'Name the primary colours' },
        { role: 'assistant', content: prefix, partial: true },
      ],
    });
    const [c] = choices(events);
    expect(c!.content).not.toContain(prefix);
    expect(c!.content.startsWith(' ')).toBe(true); // the prefix ends mid-sentence, without a space
    expect(c!.content).toContain(SIMULATION_NOTICE);
  });

  test('the same seed gives the same events; different seeds give different texts', async () => {
    const body = { model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }], n: 2, tools: WEATHER_TOOLS };
    const a = await collect({ ...body, seed: 7 });
    expect(await collect({ ...body, seed: 7 })).toEqual(a);
    const plain = { model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }] };
    const texts = new Set<string>();
    for (let seed = 1; seed <= 6; seed++) texts.add(choices(await collect({ ...plain, seed }))[0]!.content);
    expect(texts.size).toBeGreaterThan(3);
    // Without a seed, replies vary from call to call.
    const unseeded = new Set<string>();
    for (let i = 0; i < 6; i++) unseeded.add(choices(await collect(plain))[0]!.content);
    expect(unseeded.size).toBeGreaterThan(1);
  });
});

describe('tools', () => {
  test('calls the best-matching tool with schema-valid arguments, in OpenAI-style deltas', async () => {
    const events = await collect({
      model: 'kimi-k2-turbo-preview',
      messages: [{ role: 'user', content: 'What will the weather be in Paris this weekend?' }],
      tools: WEATHER_TOOLS,
    });
    const [c] = choices(events);
    expect(c!.finish).toBe('tool_calls');
    expect(c!.content).toBe('');
    const [first, ...rest] = c!.toolDeltas;
    expect(first).toMatchObject({ index: 0, name: 'get_weather' });
    expect(first!.id).toMatch(/^call_[A-Za-z0-9]{24}$/);
    expect(rest.length).toBeGreaterThan(1); // arguments arrive in fragments
    for (const d of rest) {
      expect(d.index).toBe(0);
      expect(d.id).toBeUndefined();
      expect(d.name).toBeUndefined();
    }
    checkWeatherArgs(c!.args);
    expect(JSON.parse(c!.args)).toMatchObject({ city: 'Paris' });
    expect(usage(events).completionTokens).toBe(countTextTokens(c!.args));
  });

  test('arguments satisfy the schema across many seeds', async () => {
    for (let seed = 1; seed <= 30; seed++) {
      const events = await collect({
        model: 'kimi-k2-turbo-preview',
        messages: [{ role: 'user', content: 'weather forecast please' }],
        tools: WEATHER_TOOLS,
        seed,
      });
      checkWeatherArgs(choices(events)[0]!.args);
    }
  });

  test('a thinking model reasons before calling', async () => {
    const events = await collect({ model: 'kimi-k2-thinking', messages: [{ role: 'user', content: 'weather in Seoul' }], tools: WEATHER_TOOLS });
    const [c] = choices(events);
    const kinds = c!.deltas.map((d) => (d.reasoning !== undefined ? 'r' : d.toolCalls !== undefined ? 't' : '?')).join('');
    expect(kinds).toMatch(/^r+t+$/);
    expect(c!.finish).toBe('tool_calls');
    expect(usage(events).completionTokens).toBe(countTextTokens(c!.reasoning) + countTextTokens(c!.args));
  });

  test('tool_choice names the tool; none answers in text; with no match the first tool is called', async () => {
    const named = await collect({
      model: 'kimi-k2-turbo-preview',
      messages: [{ role: 'user', content: 'weather in Paris' }],
      tools: WEATHER_TOOLS,
      tool_choice: { type: 'function', function: { name: 'search_web' } },
    });
    expect(choices(named)[0]!.toolDeltas[0]?.name).toBe('search_web');
    const none = await collect({ model: 'kimi-k2-turbo-preview', messages: [{ role: 'user', content: 'weather in Paris' }], tools: WEATHER_TOOLS, tool_choice: 'none' });
    expect(choices(none)[0]).toMatchObject({ finish: 'stop', toolDeltas: [] });
    const unmatched = await collect({ model: 'kimi-k2-turbo-preview', messages: [{ role: 'user', content: 'xyzzy' }], tools: WEATHER_TOOLS });
    expect(choices(unmatched)[0]!.toolDeltas[0]?.name).toBe('search_web');
  });

  test('after a tool result the reply is text that reports the result', async () => {
    const events = await collect({
      model: 'kimi-k2.5',
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris","days":1}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '{"temperature": 21, "sky": "clear"}' },
      ],
      tools: WEATHER_TOOLS,
    });
    const [c] = choices(events);
    expect(c!.finish).toBe('stop');
    expect(c!.toolDeltas).toEqual([]);
    expect(c!.content).toContain('"temperature": 21');
    expect(c!.content).toContain('get_weather');
    expect(c!.content).toContain(SIMULATION_NOTICE);
  });

  test('max_tokens can cut a tool call short, finishing with length', async () => {
    const body = { model: 'kimi-k2-turbo-preview', messages: [{ role: 'user', content: 'weather in Paris' }], tools: WEATHER_TOOLS, seed: 5 };
    const full = choices(await collect(body))[0]!;
    const events = await collect({ ...body, max_tokens: 3 });
    const [c] = choices(events);
    expect(c!.finish).toBe('length');
    expect(c!.args).toBe(decode(encode(full.args).slice(0, 3)));
    expect(usage(events).completionTokens).toBe(3);
  });
});

describe('timing', () => {
  test('with no delays, no timer is ever set', async () => {
    const spy = vi.spyOn(globalThis, 'setTimeout');
    await collect({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }], n: 2 });
    expect(spy).not.toHaveBeenCalled();
  });

  test('an abort during the time to first token rejects at once and leaves no timer', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const provider = new SimulatorProvider({ ttftMs: 10_000, tokensPerSecond: 0 });
    const events = provider.chat(callFor({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }] }, controller.signal));
    const iterator = events[Symbol.asyncIterator]();
    const first = iterator.next();
    const settled = vi.fn();
    first.then(settled, settled);
    await vi.advanceTimersByTimeAsync(20);
    expect(settled).not.toHaveBeenCalled(); // still waiting for the first token
    expect(vi.getTimerCount()).toBe(1);
    controller.abort();
    // No fake time passes: the rejection must come from the abort itself.
    await expect(first).rejects.toMatchObject({ name: 'AbortError' });
    expect(vi.getTimerCount()).toBe(0);
  });

  test('an abort while paced ends the stream and leaves no timer', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const provider = new SimulatorProvider({ ttftMs: 0, tokensPerSecond: 5 });
    const events = provider.chat(callFor({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }] }, controller.signal));
    const iterator = events[Symbol.asyncIterator]();
    await iterator.next(); // the first chunk is due at once (ttft 0)
    const second = iterator.next(); // due 200-600 ms later, at 5 tokens/s
    await vi.advanceTimersByTimeAsync(100);
    expect(vi.getTimerCount()).toBe(1);
    controller.abort(new Error('client left'));
    await expect(second).rejects.toThrow('client left');
    expect(vi.getTimerCount()).toBe(0);
  });

  test('an already aborted signal fails before any event', async () => {
    const controller = new AbortController();
    controller.abort();
    const iterator = new SimulatorProvider(UNPACED).chat(callFor({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hi' }] }, controller.signal));
    await expect(iterator[Symbol.asyncIterator]().next()).rejects.toMatchObject({ name: 'AbortError' });
  });

  test('waits the time to first token, then paces tokens at tokensPerSecond', async () => {
    const body = { model: 'kimi-k2-turbo-preview', messages: [{ role: 'user', content: 'Hello' }], seed: 9 };
    const total = usage(await collect(body)).completionTokens as number;

    vi.useFakeTimers();
    const received: ChatEvent[] = [];
    let done = false;
    void (async () => {
      for await (const e of new SimulatorProvider({ ttftMs: 200, tokensPerSecond: 20 }).chat(callFor(body))) received.push(e);
      done = true;
    })();

    await vi.advanceTimersByTimeAsync(199);
    expect(received).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(received.length).toBeGreaterThan(0); // the first token at ttft
    const counts: number[] = [];
    for (let t = 0; t < 5; t++) {
      await vi.advanceTimersByTimeAsync(500); // 10 tokens' worth at 20/s
      counts.push(received.length);
      expect(vi.getTimerCount()).toBeLessThanOrEqual(1);
    }
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    expect(new Set(counts).size).toBe(5); // progress in every interval, never all at once
    // A chunk goes out when its first token is due; the last chunk holds 1-3 tokens, so it
    // is due between ttft + (total - 3) * 50 ms and ttft + (total - 1) * 50 ms.
    const elapsed = 200 + 5 * 500;
    await vi.advanceTimersByTimeAsync(200 + (total - 3) * 50 - 1 - elapsed);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(2 * 50 + 1);
    expect(done).toBe(true);
    expect(received[received.length - 1]).toMatchObject({ type: 'usage', completionTokens: total });
  });

  test('at high speed, tokens go out in ticks rather than one timer each', async () => {
    vi.useFakeTimers();
    const spy = vi.spyOn(globalThis, 'setTimeout');
    const received: ChatEvent[] = [];
    let done = false;
    void (async () => {
      const call = callFor({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }], n: 4 });
      for await (const e of new SimulatorProvider({ ttftMs: 0, tokensPerSecond: 10_000 }).chat(call)) received.push(e);
      done = true;
    })();
    await vi.advanceTimersByTimeAsync(1000);
    expect(done).toBe(true);
    const deltas = received.filter((e) => e.type === 'delta').length;
    expect(deltas).toBeGreaterThan(200);
    // About 150 tokens per choice at 0.1 ms each: a few 10 ms ticks, not hundreds of timers.
    expect(spy.mock.calls.length).toBeLessThanOrEqual(5);
  });
});
