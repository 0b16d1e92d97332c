import { MockAgent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MoongateError, findModel, parseChatRequest } from '../../src/contract/index.js';
import type { ChatEvent, ErrorCode, KimiModel } from '../../src/contract/index.js';
import { MOONSHOT_BASE_URL, MoonshotProvider } from '../../src/providers/moonshot/index.js';
import type { ProviderCall } from '../../src/providers/provider.js';
import { FakeUpstream, readFixture } from '../helpers/fake-upstream.js';
import { countPromptTokens } from '../../src/tokens/count-tokens.js';

const MOONSHOT_KEY = 'sk-MoonshotOperatorKey0123456789abcdef';

function model(id: string): KimiModel {
  const found = findModel(id);
  if (found === undefined) throw new Error(`unknown model ${id}`);
  return found;
}

function makeCall(body: Record<string, unknown>, signal: AbortSignal = new AbortController().signal): ProviderCall {
  const request = parseChatRequest({ messages: [{ role: 'user', content: 'Hello' }], ...body });
  return { request, model: model(request.model), upstreamModel: request.model, promptTokens: countPromptTokens(request.messages, request.tools), signal };
}

async function collect(events: AsyncIterable<ChatEvent>): Promise<ChatEvent[]> {
  const out: ChatEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

async function moongateFailure(events: AsyncIterable<ChatEvent>): Promise<{ error: MoongateError; before: ChatEvent[] }> {
  const before: ChatEvent[] = [];
  try {
    for await (const event of events) before.push(event);
  } catch (error) {
    expect(error).toBeInstanceOf(MoongateError);
    return { error: error as MoongateError, before };
  }
  throw new Error('expected the stream to fail');
}

const THINKING_EVENTS: ChatEvent[] = [
  { type: 'delta', index: 0, reasoning: 'The user greets me in Korean: ' },
  { type: 'delta', index: 0, reasoning: '"안녕하세요". ' },
  { type: 'delta', index: 0, reasoning: 'I should answer warmly 👋\n\n' },
  { type: 'delta', index: 0, reasoning: 'and offer help.' },
  { type: 'delta', index: 0, content: '안녕하세요! ' },
  { type: 'delta', index: 0, content: '무엇을 도와드릴까요?' },
  { type: 'finish', index: 0, reason: 'stop' },
  { type: 'usage', promptTokens: 20, completionTokens: 31, cachedTokens: 16 },
];

let upstream: FakeUpstream;
let provider: MoonshotProvider;

beforeEach(async () => {
  upstream = await FakeUpstream.start();
  provider = new MoonshotProvider({ apiKey: MOONSHOT_KEY, baseUrl: upstream.baseUrl });
});

afterEach(async () => {
  await provider.close();
  await upstream.close();
});

describe('MoonshotProvider: the request sent upstream', () => {
  async function sentBody(body: Record<string, unknown>): Promise<unknown> {
    upstream.stream(readFixture('moonshot/non-thinking-stream.sse'));
    await collect(provider.chat(makeCall({ stream: true, ...body })));
    return upstream.requests.at(-1)?.body;
  }

  it('is a moonshot provider that sends the operator key to /v1/chat/completions', async () => {
    expect(provider.kind).toBe('moonshot');
    await sentBody({ model: 'kimi-k2-turbo-preview' });
    const [sent] = upstream.requests;
    expect(sent?.path).toBe('/v1/chat/completions');
    expect(sent?.headers.authorization).toBe(`Bearer ${MOONSHOT_KEY}`);
    expect(sent?.headers.accept).toBe('text/event-stream');
  });

  it('always asks a stream for usage, and sends max_tokens', async () => {
    expect(
      await sentBody({
        model: 'kimi-k2-turbo-preview',
        stream_options: { include_usage: false },
        max_completion_tokens: 512,
        temperature: 0.6,
      }),
    ).toEqual({
      model: 'kimi-k2-turbo-preview',
      messages: [{ role: 'user', content: 'Hello' }],
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 512,
      temperature: 0.6,
    });
  });

  it('asks for a non-stream request as one stream: false call (its completion carries the usage)', async () => {
    expect(
      await sentBody({ model: 'kimi-k2-turbo-preview', stream: false, max_completion_tokens: 512, temperature: 0.6 }),
    ).toEqual({
      model: 'kimi-k2-turbo-preview',
      messages: [{ role: 'user', content: 'Hello' }],
      stream: false,
      max_tokens: 512,
      temperature: 0.6,
    });
    expect(upstream.requests.at(-1)?.headers.accept).toBe('application/json');
  });

  it('drops what kimi-k2.5 would reject: temperature other than 1, top_p other than 0.95, non-zero penalties', async () => {
    expect(
      await sentBody({
        model: 'kimi-k2.5',
        temperature: 0.3,
        top_p: 0.9,
        presence_penalty: 0.5,
        frequency_penalty: 0.2,
        seed: 7,
      }),
    ).toEqual({
      model: 'kimi-k2.5',
      messages: [{ role: 'user', content: 'Hello' }],
      stream: true,
      stream_options: { include_usage: true },
      seed: 7,
    });
  });

  it('keeps the values kimi-k2.5 accepts', async () => {
    expect(
      await sentBody({ model: 'kimi-k2.5', temperature: 1, top_p: 0.95, presence_penalty: 0, frequency_penalty: 0 }),
    ).toEqual({
      model: 'kimi-k2.5',
      messages: [{ role: 'user', content: 'Hello' }],
      stream: true,
      stream_options: { include_usage: true },
      temperature: 1,
      top_p: 0.95,
      presence_penalty: 0,
      frequency_penalty: 0,
    });
  });

  it.each([
    ['kimi-k2-turbo-preview', 1.7, 1],
    ['kimi-k2-thinking', 2, 1],
    ['kimi-k2-thinking-turbo', 1, 1],
    ['kimi-k2-0905-preview', 0.4, 0.4],
    ['kimi-k2-0711-preview', 0, 0],
    ['kimi-k2-instruct-0905', 1.2, 1],
  ])('clamps the temperature of %s: %d → %d', async (id, given, sent) => {
    const body = (await sentBody({ model: id, temperature: given, top_p: 0.5 })) as Record<string, unknown>;
    expect(body.temperature).toBe(sent);
    expect(body.top_p).toBe(0.5);
    expect(Object.keys(body)).toEqual(['model', 'messages', 'stream', 'stream_options', 'temperature', 'top_p']);
  });

  it('sends no temperature when the client gave none', async () => {
    const body = (await sentBody({ model: 'kimi-k2-turbo-preview' })) as Record<string, unknown>;
    expect('temperature' in body).toBe(false);
  });

  it('sends earlier reasoning_content, tool calls and partial mode as given', async () => {
    const body = (await sentBody({
      model: 'kimi-k2-thinking',
      messages: [
        { role: 'user', content: 'Weather?' },
        {
          role: 'assistant',
          content: '',
          reasoning_content: 'Call the tool.',
          tool_calls: [{ id: 'get_weather:0', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Seoul"}' } }],
        },
        { role: 'tool', content: '21°C', tool_call_id: 'get_weather:0', name: 'get_weather' },
        { role: 'assistant', content: '{"answer":', partial: true },
      ],
    })) as Record<string, unknown>;
    expect(body.messages).toEqual([
      { role: 'user', content: 'Weather?' },
      {
        role: 'assistant',
        content: '',
        tool_calls: [{ id: 'get_weather:0', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Seoul"}' } }],
        reasoning_content: 'Call the tool.',
      },
      { role: 'tool', content: '21°C', name: 'get_weather', tool_call_id: 'get_weather:0' },
      { role: 'assistant', content: '{"answer":', partial: true },
    ]);
  });

  it('goes to https://api.moonshot.ai/v1 by default', async () => {
    const mock = new MockAgent();
    mock.disableNetConnect();
    let path = '';
    let authorization: unknown;
    mock
      .get('https://api.moonshot.ai')
      .intercept({ path: '/v1/chat/completions', method: 'POST' })
      .reply(200, (options) => {
        path = options.path;
        authorization = new Headers(options.headers as Record<string, string>).get('authorization');
        return readFixture('moonshot/thinking-stream.sse');
      }, { headers: { 'content-type': 'text/event-stream' } });
    const international = new MoonshotProvider({ apiKey: MOONSHOT_KEY, dispatcher: mock });
    try {
      expect(MOONSHOT_BASE_URL).toBe('https://api.moonshot.ai/v1');
      expect(await collect(international.chat(makeCall({ model: 'kimi-k2.5' })))).toEqual(THINKING_EVENTS);
      expect(path).toBe('/v1/chat/completions');
      expect(authorization).toBe(`Bearer ${MOONSHOT_KEY}`);
    } finally {
      await international.close();
      await mock.close();
    }
  });

  it('goes to the .cn endpoint when MOONSHOT_BASE_URL says so', async () => {
    const mock = new MockAgent();
    mock.disableNetConnect();
    mock
      .get('https://api.moonshot.cn')
      .intercept({ path: '/v1/chat/completions', method: 'POST' })
      .reply(200, readFixture('moonshot/non-thinking-stream.sse'), { headers: { 'content-type': 'text/event-stream' } });
    const china = new MoonshotProvider({ apiKey: MOONSHOT_KEY, baseUrl: 'https://api.moonshot.cn/v1', dispatcher: mock });
    try {
      const events = await collect(china.chat(makeCall({ model: 'kimi-k2-turbo-preview' })));
      expect(events.at(-1)).toEqual({ type: 'usage', promptTokens: 9, completionTokens: 9 });
      mock.assertNoPendingInterceptors();
    } finally {
      await china.close();
      await mock.close();
    }
  });
});

describe('MoonshotProvider: recorded streams', () => {
  it('reads a thinking stream: reasoning_content becomes reasoning, then content, finish, usage with cache hits', async () => {
    upstream.stream(readFixture('moonshot/thinking-stream.sse'));
    expect(await collect(provider.chat(makeCall({ model: 'kimi-k2.5' })))).toEqual(THINKING_EVENTS);
  });

  it('reads a thinking completion (stream: false): the same reply in one delta, usage with top-level cached_tokens', async () => {
    upstream.reply({ body: readFixture('moonshot/thinking-completion.json') });
    expect(await collect(provider.chat(makeCall({ model: 'kimi-k2.5' })))).toEqual([
      {
        type: 'delta',
        index: 0,
        reasoning: 'The user greets me in Korean: "안녕하세요". I should answer warmly 👋\n\nand offer help.',
        content: '안녕하세요! 무엇을 도와드릴까요?',
      },
      ...THINKING_EVENTS.slice(-2),
    ]);
  });

  it('reads the thinking stream written one byte at a time', async () => {
    upstream.stream(readFixture('moonshot/thinking-stream.sse'), { chunking: 'bytes' });
    expect(await collect(provider.chat(makeCall({ model: 'kimi-k2.5' })))).toEqual(THINKING_EVENTS);
  });

  it('reads the thinking stream written with CRLF line endings in 5-byte pieces', async () => {
    upstream.stream(readFixture('moonshot/thinking-stream.sse').replaceAll('\n', '\r\n'), { chunking: 5 });
    expect(await collect(provider.chat(makeCall({ model: 'kimi-k2.5' })))).toEqual(THINKING_EVENTS);
  });

  it('reads a non-thinking stream, skipping the empty first delta', async () => {
    upstream.stream(readFixture('moonshot/non-thinking-stream.sse'), { chunking: 3 });
    expect(await collect(provider.chat(makeCall({ model: 'kimi-k2-turbo-preview' })))).toEqual([
      { type: 'delta', index: 0, content: 'Hello' },
      { type: 'delta', index: 0, content: '! How can I' },
      { type: 'delta', index: 0, content: ' help you today?' },
      { type: 'finish', index: 0, reason: 'stop' },
      { type: 'usage', promptTokens: 9, completionTokens: 9 },
    ]);
  });

  it('reads usage from choices[0].usage when there is no separate usage chunk', async () => {
    upstream.stream(readFixture('moonshot/usage-in-choice-stream.sse'));
    expect(await collect(provider.chat(makeCall({ model: 'kimi-k2-0905-preview' })))).toEqual([
      { type: 'delta', index: 0, content: '你好' },
      { type: 'delta', index: 0, content: '，我是 Kimi。' },
      { type: 'finish', index: 0, reason: 'stop' },
      { type: 'usage', promptTokens: 19, completionTokens: 13, cachedTokens: 8 },
    ]);
  });

  it('yields usage once when Moonshot reports it both in the choice and in a usage chunk', async () => {
    const base = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'kimi-k2-turbo-preview' };
    upstream.stream(
      [
        { ...base, choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: null }] },
        { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop', usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } }] },
        { ...base, choices: [], usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4, cached_tokens: 2 } },
      ]
        .map((chunk) => `data: ${JSON.stringify(chunk)}\n\n`)
        .join('') + 'data: [DONE]\n\n',
    );
    expect(await collect(provider.chat(makeCall({ model: 'kimi-k2-turbo-preview' })))).toEqual([
      { type: 'delta', index: 0, content: 'Hi' },
      { type: 'finish', index: 0, reason: 'stop' },
      { type: 'usage', promptTokens: 3, completionTokens: 1, cachedTokens: 2 },
    ]);
  });

  it('reads cache writes from prompt_tokens_details, or from the top level beside cached_tokens', async () => {
    const base = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'kimi-k2-turbo-preview' };
    const streamWith = (usage: object) =>
      [
        { ...base, choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: 'stop' }] },
        { ...base, choices: [], usage },
      ]
        .map((chunk) => `data: ${JSON.stringify(chunk)}\n\n`)
        .join('') + 'data: [DONE]\n\n';
    upstream.stream(
      streamWith({ prompt_tokens: 30, completion_tokens: 1, total_tokens: 31, cached_tokens: 10, prompt_tokens_details: { cached_tokens: 10, cache_write_tokens: 12 } }),
    );
    expect((await collect(provider.chat(makeCall({ model: 'kimi-k2-turbo-preview' })))).at(-1)).toEqual({
      type: 'usage',
      promptTokens: 30,
      completionTokens: 1,
      cachedTokens: 10,
      cacheWriteTokens: 12,
    });
    upstream.stream(streamWith({ prompt_tokens: 30, completion_tokens: 1, total_tokens: 31, cached_tokens: 0, cache_write_tokens: 20 }));
    expect((await collect(provider.chat(makeCall({ model: 'kimi-k2-turbo-preview' })))).at(-1)).toEqual({
      type: 'usage',
      promptTokens: 30,
      completionTokens: 1,
      cachedTokens: 0,
      cacheWriteTokens: 20,
    });
  });

  it('reads a tool-call stream with arguments in fragments', async () => {
    upstream.stream(readFixture('moonshot/tool-call-stream.sse'), { chunking: 11 });
    expect(await collect(provider.chat(makeCall({ model: 'kimi-k2-0905-preview' })))).toEqual([
      { type: 'delta', index: 0, content: 'Let me check.' },
      { type: 'delta', index: 0, toolCalls: [{ index: 0, id: 'get_weather:0', name: 'get_weather' }] },
      { type: 'delta', index: 0, toolCalls: [{ index: 0, arguments: '{"city":' }] },
      { type: 'delta', index: 0, toolCalls: [{ index: 0, arguments: ' "서울"}' }] },
      { type: 'delta', index: 0, toolCalls: [{ index: 1, id: 'get_time:1', name: 'get_time', arguments: '{"tz"' }] },
      { type: 'delta', index: 0, toolCalls: [{ index: 1, arguments: ': "Asia/Seoul"}' }] },
      { type: 'finish', index: 0, reason: 'tool_calls' },
      { type: 'usage', promptTokens: 120, completionTokens: 40 },
    ]);
  });

  it('reads n=2 with interleaved choices, usage after both finishes', async () => {
    upstream.stream(readFixture('moonshot/n2-stream.sse'));
    expect(await collect(provider.chat(makeCall({ model: 'kimi-k2-turbo-preview', n: 2 })))).toEqual([
      { type: 'delta', index: 0, content: 'Red' },
      { type: 'delta', index: 1, content: 'Blue' },
      { type: 'delta', index: 1, content: '.' },
      { type: 'finish', index: 1, reason: 'stop' },
      { type: 'delta', index: 0, content: ' and green' },
      { type: 'finish', index: 0, reason: 'length' },
      { type: 'usage', promptTokens: 12, completionTokens: 6 },
    ]);
    expect((upstream.requests[0]?.body as Record<string, unknown>).n).toBe(2);
  });

  it('throws api_error when the stream is cut before the finish', async () => {
    const recording = readFixture('moonshot/thinking-stream.sse');
    upstream.stream(recording.slice(0, recording.indexOf('data: {', recording.indexOf('"content":"안녕하세요! "'))));
    const { error, before } = await moongateFailure(provider.chat(makeCall({ model: 'kimi-k2.5' })));
    expect(error.code).toBe('api_error');
    expect(error.message).toBe('the upstream closed the stream early');
    expect(before).toEqual(THINKING_EVENTS.slice(0, 5));
  });

  it('ends the upstream request when the caller aborts mid-stream', async () => {
    const controller = new AbortController();
    const recording = readFixture('moonshot/thinking-stream.sse');
    upstream.stream(recording.slice(0, recording.indexOf('data: {', recording.indexOf('and offer help.'))), { hang: true });
    const closed = upstream.waitForClientClose();
    const events: ChatEvent[] = [];
    let caught: unknown;
    try {
      for await (const event of provider.chat(makeCall({ model: 'kimi-k2.5' }, controller.signal))) {
        events.push(event);
        if (events.length === 3) controller.abort();
      }
    } catch (error) {
      caught = error;
    }
    expect(caught).toBe(controller.signal.reason);
    expect(events).toEqual(THINKING_EVENTS.slice(0, 3));
    await closed;
    expect(upstream.closedBeforeEnd).toBe(1);
  });
});

describe("MoonshotProvider: Moonshot's error bodies", () => {
  const cases: Array<[number, string, string, ErrorCode, string]> = [
    [400, 'invalid_request_error', 'Invalid request: temperature must be in [0, 1]', 'bad_request', 'Invalid request: temperature must be in [0, 1]'],
    [400, 'invalid_request_error', 'Your request exceeded model token limit : 262144', 'bad_request', 'Your request exceeded model token limit : 262144'],
    [400, 'content_filter', 'The request was rejected because it was considered high risk', 'bad_request', 'The request was rejected because it was considered high risk'],
    [401, 'invalid_authentication_error', 'Invalid Authentication', 'api_error', "the upstream rejected the operator's credentials"],
    [401, 'incorrect_api_key_error', `Incorrect API key provided: ${MOONSHOT_KEY}`, 'api_error', "the upstream rejected the operator's credentials"],
    [403, 'exceeded_current_quota_error', 'Your account org-1<ak-abc> is suspended, please check your plan and billing details', 'api_error', "the upstream account's quota or balance is exhausted"],
    [403, 'permission_denied_error', 'The API you are accessing is not open', 'api_error', "the upstream does not allow this request for the operator's account"],
    [404, 'resource_not_found_error', 'Not found the model kimi-x or Permission denied', 'api_error', 'the upstream does not serve this model'],
    [429, 'exceeded_current_quota_error', 'You exceeded your current token quota: 1000000, please check your account balance', 'api_error', "the upstream account's quota or balance is exhausted"],
    [429, 'rate_limit_reached_error', 'Your account org-1<ak-abc> request reached organization max RPM: 3', 'too_many_requests', 'the upstream is rate limiting requests, please retry later'],
    [429, 'engine_overloaded_error', 'The engine is currently overloaded, please try again later', 'too_many_requests', 'the upstream is rate limiting requests, please retry later'],
    [500, 'server_error', 'Failed to extract file', 'api_error', 'the upstream failed (status 500)'],
    [500, 'unexpected_output', 'invalid state transition', 'api_error', 'the upstream failed (status 500)'],
  ];

  it.each(cases)('maps %i %s to %s', async (status, type, message, code, clientMessage) => {
    upstream.reply({
      status,
      headers: { 'content-type': 'application/json', ...(status === 429 ? { 'retry-after': '3' } : {}) },
      body: JSON.stringify({ error: { type, message } }),
    });
    const { error, before } = await moongateFailure(provider.chat(makeCall({ model: 'kimi-k2.5' })));
    expect(before).toEqual([]);
    expect(error.code).toBe(code);
    expect(error.message).toBe(clientMessage);
    expect(error.message).not.toContain(MOONSHOT_KEY);
    if (code === 'too_many_requests') expect(error.retryAfter).toBe(3);
  });

  it('redacts the key from a 400 message that echoes it', async () => {
    upstream.reply({
      status: 400,
      body: JSON.stringify({ error: { type: 'invalid_request_error', message: `Invalid request: bad key ${MOONSHOT_KEY}` } }),
    });
    const { error } = await moongateFailure(provider.chat(makeCall({ model: 'kimi-k2.5' })));
    expect(error.code).toBe('bad_request');
    expect(error.message).toBe('Invalid request: bad key [redacted]');
  });

  it('never maps an upstream 401 to the client’s invalid_token, nor an empty balance to used_up', async () => {
    for (const [status, type] of [
      [401, 'invalid_authentication_error'],
      [403, 'exceeded_current_quota_error'],
    ] as const) {
      upstream.reply({ status, body: JSON.stringify({ error: { type, message: 'x' } }) });
      const { error } = await moongateFailure(provider.chat(makeCall({ model: 'kimi-k2.5' })));
      expect(error.code).toBe('api_error');
      expect(error.status).toBe(500);
    }
  });
});
