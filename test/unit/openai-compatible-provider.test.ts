import { Agent, Pool } from 'undici';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MoongateError, findModel, parseChatRequest } from '../../src/contract/index.js';
import type { ChatEvent, ErrorCode, KimiModel } from '../../src/contract/index.js';
import { OpenAICompatibleProvider, type OpenAICompatibleProviderOptions } from '../../src/providers/openai-compatible/index.js';
import { COMPLETION_BODY_LIMIT_BYTES } from '../../src/providers/openai-compatible/openai-compatible-provider.js';
import { MAX_REPORTED_TOKENS } from '../../src/providers/openai-compatible/chunk-reader.js';
import type { ProviderCall } from '../../src/providers/provider.js';
import { FakeUpstream, readFixture } from '../helpers/fake-upstream.js';
import { countPromptTokens } from '../../src/tokens/count-tokens.js';

const API_KEY = 'sk-test0penaiCompat1bleKey42';

function model(id: string): KimiModel {
  const found = findModel(id);
  if (found === undefined) throw new Error(`unknown model ${id}`);
  return found;
}

function makeCall(body: Record<string, unknown>, options: { signal?: AbortSignal; upstreamModel?: string } = {}): ProviderCall {
  const request = parseChatRequest({ model: 'kimi-k2-thinking', messages: [{ role: 'user', content: 'Hello' }], ...body });
  return {
    request,
    model: model(request.model),
    upstreamModel: options.upstreamModel ?? 'moonshotai/Kimi-K2-Thinking',
    promptTokens: countPromptTokens(request.messages, request.tools),
    signal: options.signal ?? new AbortController().signal,
  };
}

async function collect(events: AsyncIterable<ChatEvent>): Promise<ChatEvent[]> {
  const out: ChatEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

async function failure(events: AsyncIterable<ChatEvent>): Promise<{ error: unknown; before: ChatEvent[] }> {
  const before: ChatEvent[] = [];
  try {
    for await (const event of events) before.push(event);
  } catch (error) {
    return { error, before };
  }
  throw new Error('expected the stream to fail');
}

async function moongateFailure(events: AsyncIterable<ChatEvent>): Promise<{ error: MoongateError; before: ChatEvent[] }> {
  const { error, before } = await failure(events);
  expect(error).toBeInstanceOf(MoongateError);
  return { error: error as MoongateError, before };
}

function sse(...chunks: unknown[]): string {
  return chunks.map((chunk) => `data: ${typeof chunk === 'string' ? chunk : JSON.stringify(chunk)}\n\n`).join('');
}

function chunk(choices: unknown[], usage: unknown = null): Record<string, unknown> {
  return { id: 'chatcmpl-x', object: 'chat.completion.chunk', created: 1, model: 'm', choices, usage };
}

const VLLM_EVENTS: ChatEvent[] = [
  { type: 'delta', index: 0, reasoning: 'Two plus two' },
  { type: 'delta', index: 0, reasoning: ' is four.' },
  { type: 'delta', index: 0, content: '4' },
  { type: 'finish', index: 0, reason: 'stop' },
  { type: 'usage', promptTokens: 40, completionTokens: 12, cachedTokens: 32 },
];

/** The same reply as one `chat.completion` (stream: false), read as one delta per choice. */
const VLLM_COMPLETION: unknown = JSON.parse(readFixture('openai-compatible/vllm-reasoning-completion.json'));
const VLLM_COMPLETION_EVENTS: ChatEvent[] = [
  { type: 'delta', index: 0, reasoning: 'Two plus two is four.', content: '4' },
  { type: 'finish', index: 0, reason: 'stop' },
  { type: 'usage', promptTokens: 40, completionTokens: 12, cachedTokens: 32 },
];

function completion(choices: unknown[], usage: unknown = null): Record<string, unknown> {
  return { id: 'chatcmpl-x', object: 'chat.completion', created: 1, model: 'm', choices, usage };
}

let upstream: FakeUpstream;
let provider: OpenAICompatibleProvider;

function newProvider(options: Partial<OpenAICompatibleProviderOptions> = {}): OpenAICompatibleProvider {
  return new OpenAICompatibleProvider({ baseUrl: upstream.baseUrl, apiKey: API_KEY, ...options });
}

/** A provider whose upstream port was just closed: every connection is refused. */
async function unreachableProvider(): Promise<OpenAICompatibleProvider> {
  const gone = await FakeUpstream.start();
  const baseUrl = gone.baseUrl;
  await gone.close();
  return new OpenAICompatibleProvider({ baseUrl, apiKey: API_KEY });
}

/**
 * Resolves once no request of `pool` is running and its connection is free: the next request
 * can take it. The provider's answer is read before its connection is released (the rest of
 * the body, the end of the response), so the next call must wait for that, not for some
 * milliseconds.
 */
async function connectionIdle(pool: Pool): Promise<void> {
  await vi.waitFor(() => expect([pool.stats.running, pool.stats.pending, pool.stats.free]).toEqual([0, 0, 1]));
}

/**
 * Makes four calls (each checking its own answer) through a provider on one pool, each once
 * the last gave its connection back: all four must go over that one connection, none of
 * them cut and replaced.
 */
async function expectOneConnection(call: (of: OpenAICompatibleProvider) => Promise<void>): Promise<void> {
  const pool = new Pool(new URL(upstream.baseUrl).origin);
  provider = newProvider({ dispatcher: pool });
  try {
    for (let i = 0; i < 4; i++) {
      await call(provider);
      await connectionIdle(pool);
    }
  } finally {
    await pool.close();
  }
  expect(upstream.closedBeforeEnd).toBe(0);
  expect(new Set(upstream.requests.map((request) => request.remotePort)).size).toBe(1);
}

beforeEach(async () => {
  upstream = await FakeUpstream.start();
  provider = newProvider();
});

afterEach(async () => {
  await provider.close();
  await upstream.close();
});

describe('OpenAICompatibleProvider: the request sent upstream', () => {
  it('POSTs to /chat/completions with the key, JSON and an SSE accept header', async () => {
    upstream.stream(readFixture('openai-compatible/vllm-reasoning-stream.sse'));
    await collect(provider.chat(makeCall({ stream: true })));
    const [sent] = upstream.requests;
    expect(sent?.method).toBe('POST');
    expect(sent?.path).toBe('/v1/chat/completions');
    expect(sent?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(sent?.headers['content-type']).toBe('application/json');
    expect(sent?.headers.accept).toBe('text/event-stream');
  });

  it('sends no authorization header without a key, and tolerates a trailing slash in baseUrl', async () => {
    await provider.close();
    provider = newProvider({ apiKey: undefined, baseUrl: `${upstream.baseUrl}/` });
    upstream.stream(readFixture('openai-compatible/vllm-reasoning-stream.sse'));
    await collect(provider.chat(makeCall({})));
    expect(upstream.requests[0]?.path).toBe('/v1/chat/completions');
    expect(upstream.requests[0]?.headers.authorization).toBeUndefined();
  });

  it('sends a minimal stream request as model, messages, stream and stream_options only', async () => {
    upstream.stream(readFixture('openai-compatible/vllm-reasoning-stream.sse'));
    await collect(provider.chat(makeCall({ n: 1, response_format: { type: 'text' }, stream: true })));
    expect(upstream.requests[0]?.body).toEqual({
      model: 'moonshotai/Kimi-K2-Thinking',
      messages: [{ role: 'user', content: 'Hello' }],
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('sends a non-stream request as one stream: false call that asks for JSON, and reads its completion as events', async () => {
    upstream.reply({ body: JSON.stringify(VLLM_COMPLETION) });
    const events = await collect(provider.chat(makeCall({ n: 1, response_format: { type: 'text' }, stream: false })));
    expect(upstream.requests[0]?.body).toEqual({
      model: 'moonshotai/Kimi-K2-Thinking',
      messages: [{ role: 'user', content: 'Hello' }],
      stream: false,
    });
    expect(upstream.requests[0]?.headers.accept).toBe('application/json');
    expect(events).toEqual(VLLM_COMPLETION_EVENTS);
  });

  it('reports acceptance on a 2xx, before the first event, and never on an error status', async () => {
    let accepted = 0;
    upstream.stream(readFixture('openai-compatible/vllm-reasoning-stream.sse'));
    const events = provider.chat({ ...makeCall({}), onAccepted: () => void accepted++ })[Symbol.asyncIterator]();
    await events.next();
    expect(accepted).toBe(1);
    await events.return?.();
    upstream.reply({ status: 500, body: '{"error":{"message":"boom"}}' });
    await expect(collect(provider.chat({ ...makeCall({}), onAccepted: () => void accepted++ }))).rejects.toMatchObject({ code: 'api_error' });
    expect(accepted).toBe(1);
  });

  it('sends every optional field that was set, in a stable order', async () => {
    upstream.stream(readFixture('openai-compatible/vllm-reasoning-stream.sse'));
    const tools = [
      {
        type: 'function',
        function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: {} } },
      },
    ];
    await collect(
      provider.chat(
        makeCall({
          messages: [
            { role: 'system', content: 'Be brief.' },
            { role: 'user', content: [{ type: 'text', text: 'Weather in ' }, { type: 'text', text: 'Seoul?' }], name: 'kim' },
            {
              role: 'assistant',
              content: null,
              reasoning_content: 'Use the tool.',
              tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{}' } }],
            },
            { role: 'tool', content: '{"c":21}', tool_call_id: 'call_1' },
            { role: 'assistant', content: 'It is', partial: true },
          ],
          stream: true,
          n: 2,
          max_completion_tokens: 256,
          temperature: 1.5,
          top_p: 0.9,
          stop: 'END',
          presence_penalty: 0.5,
          frequency_penalty: -0.5,
          response_format: { type: 'json_object' },
          tools,
          tool_choice: 'auto',
          stream_options: { include_usage: false },
          user: 'user-7',
          seed: 42,
        }),
      ),
    ).catch(() => undefined);
    const body = upstream.requests[0]?.body;
    expect(body).toEqual({
      model: 'moonshotai/Kimi-K2-Thinking',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Weather in Seoul?', name: 'kim' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{}' } }],
          reasoning_content: 'Use the tool.',
        },
        { role: 'tool', content: '{"c":21}', tool_call_id: 'call_1' },
        { role: 'assistant', content: 'It is', partial: true },
      ],
      stream: true,
      stream_options: { include_usage: true },
      n: 2,
      max_tokens: 256,
      temperature: 1.5,
      top_p: 0.9,
      stop: ['END'],
      presence_penalty: 0.5,
      frequency_penalty: -0.5,
      response_format: { type: 'json_object' },
      tools,
      tool_choice: 'auto',
      user: 'user-7',
      seed: 42,
    });
    expect(Object.keys(body as object)).toEqual([
      'model',
      'messages',
      'stream',
      'stream_options',
      'n',
      'max_tokens',
      'temperature',
      'top_p',
      'stop',
      'presence_penalty',
      'frequency_penalty',
      'response_format',
      'tools',
      'tool_choice',
      'user',
      'seed',
    ]);
  });
});

describe('OpenAICompatibleProvider: reading the stream', () => {
  it('reads a vLLM stream that names the reasoning field `reasoning`', async () => {
    upstream.stream(readFixture('openai-compatible/vllm-reasoning-stream.sse'));
    expect(await collect(provider.chat(makeCall({})))).toEqual(VLLM_EVENTS);
  });

  it('reads the same events when the upstream writes one byte at a time', async () => {
    upstream.stream(readFixture('openai-compatible/vllm-reasoning-stream.sse'), { chunking: 'bytes' });
    expect(await collect(provider.chat(makeCall({})))).toEqual(VLLM_EVENTS);
  });

  it('reads the same events in 7-byte writes', async () => {
    upstream.stream(readFixture('openai-compatible/vllm-reasoning-stream.sse'), { chunking: 7 });
    expect(await collect(provider.chat(makeCall({})))).toEqual(VLLM_EVENTS);
  });

  it('reads the seed stream (reasoning_content and reasoning both sent) without doubling the reasoning', async () => {
    upstream.stream(readFixture('seed-stream.sse'), { chunking: 13 });
    const events = await collect(provider.chat(makeCall({})));
    // Skips the first chunk's empty {content: '', role: 'assistant'}.
    expect(events[0]).toEqual({ type: 'delta', index: 0, reasoning: ' 그' });
    expect(events).toContainEqual({ type: 'delta', index: 0, reasoning: ' 도와드릴까요. ', content: ' 안녕하세요! 어떻게 도와드릴까요' });
    expect(events.slice(-3)).toEqual([
      { type: 'delta', index: 0, content: ' 오늘?' },
      { type: 'finish', index: 0, reason: 'stop' },
      { type: 'usage', promptTokens: 9, completionTokens: 135 },
    ]);
    const reasoning = events.map((event) => (event.type === 'delta' ? (event.reasoning ?? '') : '')).join('');
    expect(reasoning.startsWith(' 그 사용자가 "안녕하세요"라고 말했습니다.')).toBe(true);
    expect(reasoning.endsWith('이것은 일반적인 대화 시작인 것 같습니다. 나는 간단하게 유지하고 그들이 필요로 하는 것을 공유하도록 유도하기 위해 개방형으로 도와드릴까요. ')).toBe(true);
    expect(events.filter((event) => event.type === 'delta')).toHaveLength(15);
  });

  it('reads tool-call deltas and maps function_call and unknown finish reasons', async () => {
    upstream.stream(
      sse(
        chunk([{ index: 0, delta: { role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'c1', type: 'function', function: { name: 'f', arguments: '' } }] }, finish_reason: null }]),
        chunk([{ index: 0, delta: { tool_calls: [{ function: { arguments: '{"a":' } }] }, finish_reason: null }]),
        chunk([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '1}' } }] }, finish_reason: 'function_call' }]),
        chunk([{ index: 1, delta: { refusal: 'No.' }, finish_reason: 'eos' }]),
        '[DONE]',
      ),
    );
    expect(await collect(provider.chat(makeCall({ n: 2 })))).toEqual([
      { type: 'delta', index: 0, toolCalls: [{ index: 0, id: 'c1', name: 'f' }] },
      { type: 'delta', index: 0, toolCalls: [{ index: 0, arguments: '{"a":' }] },
      { type: 'delta', index: 0, toolCalls: [{ index: 0, arguments: '1}' }] },
      { type: 'finish', index: 0, reason: 'tool_calls' },
      { type: 'delta', index: 1, refusal: 'No.' },
      { type: 'finish', index: 1, reason: 'stop' },
    ]);
  });

  it('takes only believable counts from a usage report: whole, not negative, at most MAX_REPORTED_TOKENS', async () => {
    upstream.stream(
      sse(
        chunk([{ index: 0, delta: { content: 'a' }, finish_reason: 'stop' }]),
        chunk([], { prompt_tokens: MAX_REPORTED_TOKENS, completion_tokens: 1e20, prompt_tokens_details: { cached_tokens: MAX_REPORTED_TOKENS + 1 } }),
        '[DONE]',
      ),
    );
    // moongate counts what the upstream did not report believably (chat-gateway.ts).
    expect((await collect(provider.chat(makeCall({})))).at(-1)).toEqual({ type: 'usage', promptTokens: MAX_REPORTED_TOKENS });
    upstream.stream(sse(chunk([{ index: 0, delta: { content: 'a' }, finish_reason: 'stop' }]), chunk([], { prompt_tokens: -5, completion_tokens: 3.7, total_tokens: '12' }), '[DONE]'));
    expect((await collect(provider.chat(makeCall({})))).at(-1)).toEqual({ type: 'finish', index: 0, reason: 'stop' });
  });

  it('yields usage once, after every finish, even when it came early or twice', async () => {
    upstream.stream(
      sse(
        chunk([{ index: 0, delta: { content: 'a' }, finish_reason: null }], { prompt_tokens: 1, completion_tokens: 1 }),
        chunk([{ index: 0, delta: {}, finish_reason: 'length' }]),
        chunk([], { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 }),
        '[DONE]',
      ),
    );
    expect(await collect(provider.chat(makeCall({})))).toEqual([
      { type: 'delta', index: 0, content: 'a' },
      { type: 'finish', index: 0, reason: 'length' },
      { type: 'usage', promptTokens: 5, completionTokens: 3 },
    ]);
  });

  it('yields no usage event when the upstream reported none', async () => {
    upstream.stream(sse(chunk([{ index: 0, delta: { content: 'a' }, finish_reason: 'stop' }]), '[DONE]'));
    expect(await collect(provider.chat(makeCall({})))).toEqual([
      { type: 'delta', index: 0, content: 'a' },
      { type: 'finish', index: 0, reason: 'stop' },
    ]);
  });

  it('stops at [DONE]: what follows is not read as events', async () => {
    upstream.stream(
      `${sse(chunk([{ index: 0, delta: { content: 'a' }, finish_reason: 'stop' }]), '[DONE]')}data: not json\n\n`,
    );
    expect(await collect(provider.chat(makeCall({})))).toEqual([
      { type: 'delta', index: 0, content: 'a' },
      { type: 'finish', index: 0, reason: 'stop' },
    ]);
  });

  it('accepts a stream that ends without [DONE] after every choice finished', async () => {
    upstream.stream(sse(chunk([{ index: 0, delta: { content: 'a' }, finish_reason: 'stop' }]), chunk([], { prompt_tokens: 2, completion_tokens: 1 })));
    expect(await collect(provider.chat(makeCall({})))).toEqual([
      { type: 'delta', index: 0, content: 'a' },
      { type: 'finish', index: 0, reason: 'stop' },
      { type: 'usage', promptTokens: 2, completionTokens: 1 },
    ]);
  });

  it('ends at [DONE] without waiting for an upstream that keeps the body open, and cuts that body', async () => {
    const body = readFixture('openai-compatible/vllm-reasoning-stream.sse');
    upstream.stream(body, { hang: true });
    expect(await collect(provider.chat(makeCall({})))).toEqual(VLLM_EVENTS);
    await upstream.waitForClientClose();
    expect(upstream.closedBeforeEnd).toBe(1);
  });

  it('reuses the connection when the body ended with [DONE]', async () => {
    const body = readFixture('openai-compatible/vllm-reasoning-stream.sse');
    for (let i = 0; i < 4; i++) upstream.stream(body);
    await expectOneConnection(async (of) => expect(await collect(of.chat(makeCall({})))).toEqual(VLLM_EVENTS));
  });
});

describe('OpenAICompatibleProvider: reading a non-stream completion', () => {
  it('reads a vLLM completion as the events of its stream, one delta per choice', async () => {
    upstream.reply({ body: JSON.stringify(VLLM_COMPLETION), chunking: 7 });
    expect(await collect(provider.chat(makeCall({ stream: false })))).toEqual(VLLM_COMPLETION_EVENTS);
  });

  it("reads the seed's own non-stream response (another moongate upstream)", async () => {
    upstream.reply({ headers: { 'content-type': 'application/json; charset=utf-8' }, body: readFixture('seed-response-hello.json') });
    const events = await collect(provider.chat(makeCall({ stream: false })));
    expect(events).toHaveLength(3);
    expect(events[0]).toMatchObject({ type: 'delta', index: 0, content: ' Hello! How can I help you today?' });
    expect(events[0]).toHaveProperty('reasoning', expect.stringMatching(/^ The user has simply said "Hello"\./));
    expect(events.slice(1)).toEqual([
      { type: 'finish', index: 0, reason: 'stop' },
      { type: 'usage', promptTokens: 9, completionTokens: 184 },
    ]);
  });

  it('reads tool calls (null content), a refusal, n=2 and mapped finish reasons', async () => {
    upstream.reply({
      body: JSON.stringify(
        completion([
          {
            index: 0,
            message: { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] },
            finish_reason: 'function_call',
          },
          { index: 1, message: { role: 'assistant', content: '', refusal: 'No.' }, finish_reason: 'eos' },
        ]),
      ),
    });
    expect(await collect(provider.chat(makeCall({ n: 2 })))).toEqual([
      { type: 'delta', index: 0, toolCalls: [{ index: 0, id: 'c1', name: 'f', arguments: '{"a":1}' }] },
      { type: 'finish', index: 0, reason: 'tool_calls' },
      { type: 'delta', index: 1, refusal: 'No.' },
      { type: 'finish', index: 1, reason: 'stop' },
    ]);
  });

  it('still reads a stream when the upstream streams although it was asked not to', async () => {
    upstream.stream(readFixture('openai-compatible/vllm-reasoning-stream.sse'));
    expect(await collect(provider.chat(makeCall({ stream: false })))).toEqual(VLLM_EVENTS);
  });

  it('reuses the connection after each completion', async () => {
    for (let i = 0; i < 4; i++) upstream.reply({ body: JSON.stringify(VLLM_COMPLETION) });
    await expectOneConnection(async (of) => expect(await collect(of.chat(makeCall({})))).toEqual(VLLM_COMPLETION_EVENTS));
  });

  it.each([
    ['a body that is not JSON', '{"id": "chatcmpl-x", "choi', 'the upstream sent a malformed completion'],
    ['an empty body', '', 'the upstream sent a malformed completion'],
    ['a JSON value that is not an object', '42', 'the upstream sent a malformed event'],
    ['no choices', JSON.stringify(completion([])), 'the upstream sent no choices'],
    ['a choice without a finish reason', JSON.stringify(completion([{ index: 0, message: { content: 'a' }, finish_reason: null }])), 'the upstream ended a choice without a finish reason'],
    ["vLLM's finish_reason abort", JSON.stringify(completion([{ index: 0, message: { content: 'a' }, finish_reason: 'abort' }])), 'the upstream aborted the reply'],
    ['an error object with status 200', JSON.stringify({ error: { message: 'engine died' } }), 'the upstream failed mid-stream'],
  ])('throws api_error for %s, before any event', async (_name, body, message) => {
    upstream.reply({ body });
    const { error, before } = await moongateFailure(provider.chat(makeCall({})));
    expect(error.code).toBe('api_error');
    expect(error.message).toBe(message);
    expect(before).toEqual([]);
  });

  it('throws api_error, before any event, when the upstream cuts the body', async () => {
    upstream.reply({ body: JSON.stringify(VLLM_COMPLETION).slice(0, 80), destroy: true });
    const { error, before } = await moongateFailure(provider.chat(makeCall({})));
    expect(error.code).toBe('api_error');
    expect(error.message).toBe('the upstream closed the stream early');
    expect(before).toEqual([]);
  });

  it('gives a non-stream reply replyTimeoutMs for its headers, a stream headersTimeoutMs', async () => {
    await provider.close();
    provider = newProvider({ headersTimeoutMs: 100, replyTimeoutMs: 10_000 });
    upstream.reply({ body: JSON.stringify(VLLM_COMPLETION), headersDelayMs: 1000 });
    expect(await collect(provider.chat(makeCall({})))).toEqual(VLLM_COMPLETION_EVENTS);
    upstream.stream(readFixture('openai-compatible/vllm-reasoning-stream.sse'), { headersDelayMs: 1000 });
    const { error } = await moongateFailure(provider.chat(makeCall({ stream: true })));
    expect(error.code).toBe('timeout');
  });
});

describe('OpenAICompatibleProvider: a stream that goes wrong', () => {
  it('throws api_error when the stream ends without [DONE] and without a finish', async () => {
    upstream.stream(sse(chunk([{ index: 0, delta: { content: 'half' }, finish_reason: null }])));
    const { error, before } = await moongateFailure(provider.chat(makeCall({})));
    expect(error.code).toBe('api_error');
    expect(error.message).toBe('the upstream closed the stream early');
    expect(before).toEqual([{ type: 'delta', index: 0, content: 'half' }]);
  });

  it('throws api_error for an empty 200 body', async () => {
    upstream.stream('');
    const { error } = await moongateFailure(provider.chat(makeCall({})));
    expect(error.message).toBe('the upstream closed the stream early');
  });

  it('throws api_error when one of two choices never finished', async () => {
    upstream.stream(sse(chunk([{ index: 0, delta: { content: 'a' }, finish_reason: 'stop' }]), chunk([{ index: 1, delta: { content: 'b' }, finish_reason: null }])));
    const { error } = await moongateFailure(provider.chat(makeCall({ n: 2 })));
    expect(error.message).toBe('the upstream closed the stream early');
  });

  it('throws api_error when [DONE] comes before a choice finished', async () => {
    upstream.stream(sse(chunk([{ index: 0, delta: { content: 'a' }, finish_reason: null }]), '[DONE]'));
    const { error } = await moongateFailure(provider.chat(makeCall({})));
    expect(error.code).toBe('api_error');
    expect(error.message).toBe('the upstream ended a choice without a finish reason');
  });

  it('throws api_error when the upstream cuts the connection mid-body', async () => {
    upstream.stream(sse(chunk([{ index: 0, delta: { content: 'a' }, finish_reason: null }])), { destroy: true });
    const { error } = await moongateFailure(provider.chat(makeCall({})));
    expect(error.code).toBe('api_error');
    expect(error.message).toBe('the upstream closed the stream early');
  });

  it('throws api_error for a malformed JSON event', async () => {
    upstream.stream(sse(chunk([{ index: 0, delta: { content: 'a' }, finish_reason: null }]), '{"id": "chatcmpl-x", "choi'));
    const { error, before } = await moongateFailure(provider.chat(makeCall({})));
    expect(error.code).toBe('api_error');
    expect(error.message).toBe('the upstream sent a malformed event');
    expect(before).toHaveLength(1);
  });

  it.each([
    ['a JSON value that is not an object', '42'],
    ['choices that is not an array', '{"choices": {"index": 0}}'],
  ])('throws api_error for %s', async (_name, data) => {
    upstream.stream(sse(data));
    const { error } = await moongateFailure(provider.chat(makeCall({})));
    expect(error.message).toBe('the upstream sent a malformed event');
  });

  it('throws api_error for an in-band error event', async () => {
    upstream.stream(sse(chunk([{ index: 0, delta: { content: 'a' }, finish_reason: null }]), { error: { message: 'engine died', code: 500 } }));
    const { error } = await moongateFailure(provider.chat(makeCall({})));
    expect(error.code).toBe('api_error');
    expect(error.message).toBe('the upstream failed mid-stream');
  });

  it('throws api_error for an SSE event named error', async () => {
    upstream.stream('event: error\ndata: {"message": "boom"}\n\n');
    const { error } = await moongateFailure(provider.chat(makeCall({})));
    expect(error.message).toBe('the upstream failed mid-stream');
  });

  it("treats vLLM's finish_reason abort as a failure, not a stop", async () => {
    upstream.stream(sse(chunk([{ index: 0, delta: { content: 'a' }, finish_reason: 'abort' }]), '[DONE]'));
    const { error } = await moongateFailure(provider.chat(makeCall({})));
    expect(error.code).toBe('api_error');
    expect(error.message).toBe('the upstream aborted the reply');
  });
});

describe('OpenAICompatibleProvider: upstream error statuses', () => {
  const cases: Array<[number, ErrorCode, string]> = [
    [401, 'api_error', "the upstream rejected the operator's credentials"],
    [403, 'api_error', "the upstream rejected the operator's credentials"],
    [404, 'api_error', 'the upstream does not serve this model'],
    [408, 'timeout', 'The upstream did not answer in time.'],
    [413, 'api_error', 'the upstream failed (status 413)'],
    [422, 'api_error', 'the upstream failed (status 422)'],
    [500, 'api_error', 'the upstream failed (status 500)'],
    [502, 'api_error', 'the upstream failed (status 502)'],
    [503, 'api_error', 'the upstream failed (status 503)'],
    [504, 'timeout', 'The upstream did not answer in time.'],
  ];

  it.each(cases)('maps %i to %s before yielding anything', async (status, code, message) => {
    upstream.reply({
      status,
      body: JSON.stringify({ error: { message: `Incorrect API key provided: ${API_KEY}`, type: 'x' } }),
    });
    const stream = provider.chat(makeCall({}));
    const { error, before } = await moongateFailure(stream);
    expect(before).toEqual([]);
    expect(error.code).toBe(code);
    expect(error.message).toBe(message);
    // Set where the error is made, so the router decides retries without knowing the provider.
    expect(error.upstreamStatus).toBe(status);
  });

  it('passes a 400 message on, with keys redacted', async () => {
    upstream.reply({
      status: 400,
      body: JSON.stringify({
        object: 'error',
        type: 'BadRequestError',
        message: `max_tokens is too large; key ${API_KEY} header Bearer abc.def-123 other sk-OtherKey99`,
      }),
    });
    const { error } = await moongateFailure(provider.chat(makeCall({})));
    expect(error.code).toBe('bad_request');
    expect(error.status).toBe(400);
    expect(error.message).toBe('max_tokens is too large; key [redacted] header Bearer [redacted] other sk-[redacted]');
  });

  it.each([
    ['{"error": "model not loaded"}', 'model not loaded'],
    ['{"detail": "field required"}', 'field required'],
    ['<html>Bad Request</html>', 'the upstream rejected the request'],
    ['', 'the upstream rejected the request'],
  ])('reads a 400 body of %j', async (body, message) => {
    upstream.reply({ status: 400, body });
    const { error } = await moongateFailure(provider.chat(makeCall({})));
    expect(error.code).toBe('bad_request');
    expect(error.message).toBe(message);
  });

  it('truncates a long 400 message to 300 characters', async () => {
    upstream.reply({ status: 400, body: JSON.stringify({ error: { message: `bad ${'x'.repeat(5000)}` } }) });
    const { error } = await moongateFailure(provider.chat(makeCall({})));
    expect(error.message.length).toBe(300);
    expect(error.message.startsWith('bad xxx')).toBe(true);
  });

  it('reads at most 64 KiB of a huge error body', async () => {
    upstream.reply({ status: 500, body: 'x'.repeat(1024 * 1024) });
    const { error } = await moongateFailure(provider.chat(makeCall({})));
    expect(error.message).toBe('the upstream failed (status 500)');
  });

  it.each([
    [{ 'retry-after': '7' }, 7],
    [{ 'retry-after': '0' }, 1],
    [{ 'retry-after': 'soon' }, 1],
    [{}, 1],
  ])('maps 429 to too_many_requests with retry-after %j → %i', async (headers, retryAfter) => {
    upstream.reply({ status: 429, headers: { 'content-type': 'application/json', ...headers }, body: '{}' });
    const { error } = await moongateFailure(provider.chat(makeCall({})));
    expect(error.code).toBe('too_many_requests');
    expect(error.retryAfter).toBe(retryAfter);
  });

  it('reads an HTTP-date retry-after', async () => {
    const when = new Date(Date.now() + 30_000).toUTCString();
    upstream.reply({ status: 429, headers: { 'retry-after': when }, body: '{}' });
    const { error } = await moongateFailure(provider.chat(makeCall({})));
    expect(error.retryAfter).toBeGreaterThanOrEqual(28);
    expect(error.retryAfter).toBeLessThanOrEqual(31);
  });
});

describe('OpenAICompatibleProvider: connections, timeouts and aborts', () => {
  it('maps a refused connection to api_error', async () => {
    const refused = await unreachableProvider();
    try {
      const { error } = await moongateFailure(refused.chat(makeCall({})));
      expect(error.code).toBe('api_error');
      expect(error.message).toBe('the upstream could not be reached');
      expect(error.message).not.toContain(API_KEY);
    } finally {
      await refused.close();
    }
  });

  it('maps a headers timeout to timeout', async () => {
    await provider.close();
    provider = newProvider({ headersTimeoutMs: 100 });
    upstream.stream(readFixture('openai-compatible/vllm-reasoning-stream.sse'), { headersDelayMs: 1000 });
    const { error } = await moongateFailure(provider.chat(makeCall({})));
    expect(error.code).toBe('timeout');
    expect(error.status).toBe(504);
  });

  it('maps a body timeout mid-stream to timeout, after the events already read', async () => {
    await provider.close();
    provider = newProvider({ bodyTimeoutMs: 150 });
    upstream.stream(sse(chunk([{ index: 0, delta: { content: 'a' }, finish_reason: null }])), { hang: true });
    const { error, before } = await moongateFailure(provider.chat(makeCall({})));
    expect(error.code).toBe('timeout');
    expect(before).toEqual([{ type: 'delta', index: 0, content: 'a' }]);
  });

  it('rethrows the caller’s abort as is and ends the upstream request', async () => {
    const controller = new AbortController();
    upstream.stream(sse(chunk([{ index: 0, delta: { content: 'a' }, finish_reason: null }])), { hang: true });
    const closed = upstream.waitForClientClose();
    const events: ChatEvent[] = [];
    let caught: unknown;
    try {
      for await (const event of provider.chat(makeCall({}, { signal: controller.signal }))) {
        events.push(event);
        controller.abort();
      }
    } catch (error) {
      caught = error;
    }
    expect(events).toEqual([{ type: 'delta', index: 0, content: 'a' }]);
    expect(caught).toBe(controller.signal.reason);
    expect((caught as Error).name).toBe('AbortError');
    await closed;
    expect(upstream.closedBeforeEnd).toBe(1);
  });

  it('rethrows an abort that happens before the response', async () => {
    const controller = new AbortController();
    upstream.stream('', { headersDelayMs: 2000 });
    const stream = provider.chat(makeCall({}, { signal: controller.signal }));
    setTimeout(() => controller.abort(), 50);
    const { error } = await failure(stream);
    expect(error).toBe(controller.signal.reason);
  });

  it('rethrows an abort given before the call, without a request', async () => {
    const controller = new AbortController();
    controller.abort();
    const { error } = await failure(provider.chat(makeCall({}, { signal: controller.signal })));
    expect(error).toBe(controller.signal.reason);
    expect(upstream.requests).toHaveLength(0);
  });

  it('ends the upstream request when the consumer stops early', async () => {
    upstream.stream(sse(chunk([{ index: 0, delta: { content: 'a' }, finish_reason: null }])), { hang: true });
    const closed = upstream.waitForClientClose();
    for await (const event of provider.chat(makeCall({}))) {
      expect(event).toEqual({ type: 'delta', index: 0, content: 'a' });
      break;
    }
    await closed;
    expect(upstream.closedBeforeEnd).toBe(1);
  });

  it('sends requests through a given dispatcher and leaves it open on close()', async () => {
    const agent = new Agent();
    const shared = new OpenAICompatibleProvider({ baseUrl: upstream.baseUrl, dispatcher: agent });
    upstream.stream(readFixture('openai-compatible/vllm-reasoning-stream.sse'));
    upstream.stream(readFixture('openai-compatible/vllm-reasoning-stream.sse'));
    expect(await collect(shared.chat(makeCall({})))).toEqual(VLLM_EVENTS);
    await shared.close();
    expect(agent.closed).toBe(false);
    const again = new OpenAICompatibleProvider({ baseUrl: upstream.baseUrl, dispatcher: agent });
    expect(await collect(again.chat(makeCall({})))).toEqual(VLLM_EVENTS);
    await agent.close();
  });
});

/** `complete()` as a stream of events, so the answers of `chat()` and `complete()` compare alike. */
async function* whole(call: ProviderCall, of: OpenAICompatibleProvider = provider): AsyncGenerator<ChatEvent> {
  yield* await of.complete(call);
}

describe('OpenAICompatibleProvider: complete(), a non-stream call read whole', () => {
  it('reads a completion written in 7-byte pieces as the events of its one chunk, and sends what chat() sends', async () => {
    upstream.reply({ body: JSON.stringify(VLLM_COMPLETION), chunking: 7 });
    upstream.reply({ body: JSON.stringify(VLLM_COMPLETION) });
    expect(await collect(whole(makeCall({})))).toEqual(VLLM_COMPLETION_EVENTS);
    expect(await collect(provider.chat(makeCall({})))).toEqual(VLLM_COMPLETION_EVENTS);
    const [viaComplete, viaChat] = upstream.requests;
    expect(viaComplete?.body).toEqual(viaChat?.body);
    expect(viaComplete?.headers.accept).toBe('application/json');
    expect(viaComplete?.headers.authorization).toBe(`Bearer ${API_KEY}`);
  });

  it('reports acceptance once on a 2xx, and never on an error status', async () => {
    let accepted = 0;
    upstream.reply({ body: JSON.stringify(VLLM_COMPLETION) });
    await provider.complete({ ...makeCall({}), onAccepted: () => void accepted++ });
    expect(accepted).toBe(1);
    upstream.reply({ status: 500, body: '{"error":{"message":"boom"}}' });
    await expect(provider.complete({ ...makeCall({}), onAccepted: () => void accepted++ })).rejects.toMatchObject({ code: 'api_error' });
    expect(accepted).toBe(1);
  });

  it('reuses the connection after each completion', async () => {
    for (let i = 0; i < 4; i++) upstream.reply({ body: JSON.stringify(VLLM_COMPLETION) });
    for (let i = 0; i < 4; i++) expect(await provider.complete(makeCall({}))).toEqual(VLLM_COMPLETION_EVENTS);
    expect(upstream.closedBeforeEnd).toBe(0);
    expect(new Set(upstream.requests.map((request) => request.remotePort)).size).toBeLessThanOrEqual(2);
  });

  it.each([
    ['a body that is not JSON', '{"id": "chatcmpl-x", "choi', 'the upstream sent a malformed completion'],
    ['an empty body', '', 'the upstream sent a malformed completion'],
    ['no choices', JSON.stringify(completion([])), 'the upstream sent no choices'],
    ["vLLM's finish_reason abort", JSON.stringify(completion([{ index: 0, message: { content: 'a' }, finish_reason: 'abort' }])), 'the upstream aborted the reply'],
  ])('throws api_error for %s', async (_name, body, message) => {
    upstream.reply({ body });
    await expect(provider.complete(makeCall({}))).rejects.toMatchObject({ code: 'api_error', message });
  });

  it('throws api_error when the upstream cuts the body', async () => {
    upstream.reply({ body: JSON.stringify(VLLM_COMPLETION).slice(0, 80), destroy: true });
    await expect(provider.complete(makeCall({}))).rejects.toMatchObject({ code: 'api_error', message: 'the upstream closed the stream early' });
  });

  it('refuses a completion larger than it reads, and cuts its body', async () => {
    // Kept open after the body: only a cut ends it.
    upstream.reply({ body: `{"pad":"${'x'.repeat(COMPLETION_BODY_LIMIT_BYTES)}"}`, hang: true });
    await expect(provider.complete(makeCall({}))).rejects.toMatchObject({ code: 'api_error', message: 'the upstream sent a completion too large to read' });
    await upstream.waitForClientClose();
    expect(upstream.closedBeforeEnd).toBe(1);
  });

  it('reads a stream when the upstream streams although it was asked not to', async () => {
    upstream.stream(readFixture('openai-compatible/vllm-reasoning-stream.sse'), { chunking: 7 });
    expect(await provider.complete(makeCall({}))).toEqual(VLLM_EVENTS);
  });

  it('reuses the connection after such a stream, when its body ends at [DONE]', async () => {
    for (let i = 0; i < 4; i++) upstream.stream(readFixture('openai-compatible/vllm-reasoning-stream.sse'));
    await expectOneConnection(async (of) => expect(await of.complete(makeCall({}))).toEqual(VLLM_EVENTS));
  });

  it('ends such a stream at [DONE] without waiting for a body kept open, and cuts that body', async () => {
    upstream.stream(readFixture('openai-compatible/vllm-reasoning-stream.sse'), { hang: true });
    expect(await provider.complete(makeCall({}))).toEqual(VLLM_EVENTS);
    await upstream.waitForClientClose();
    expect(upstream.closedBeforeEnd).toBe(1);
  });

  it.each([
    ['a malformed event', sse(chunk([{ index: 0, delta: { content: 'a' }, finish_reason: null }]), '{"id": "chatcmpl-x", "choi'), 'the upstream sent a malformed event'],
    ['an end without [DONE] or a finish', sse(chunk([{ index: 0, delta: { content: 'half' }, finish_reason: null }])), 'the upstream closed the stream early'],
    ['[DONE] before a choice finished', sse(chunk([{ index: 0, delta: { content: 'a' }, finish_reason: null }]), '[DONE]'), 'the upstream ended a choice without a finish reason'],
  ])('throws api_error for such a stream with %s', async (_name, body, message) => {
    upstream.stream(body);
    await expect(provider.complete(makeCall({}))).rejects.toMatchObject({ code: 'api_error', message });
  });

  it('maps an error status as chat() does, keys redacted, and reads at most 64 KiB of its body', async () => {
    upstream.reply({ status: 400, body: JSON.stringify({ error: { message: `max_tokens is too large; key ${API_KEY}` } }) });
    await expect(provider.complete(makeCall({}))).rejects.toMatchObject({ code: 'bad_request', message: 'max_tokens is too large; key [redacted]', upstreamStatus: 400 });
    upstream.reply({ status: 429, headers: { 'retry-after': '7' }, body: '{}' });
    await expect(provider.complete(makeCall({}))).rejects.toMatchObject({ code: 'too_many_requests', retryAfter: 7 });
    upstream.reply({ status: 400, body: JSON.stringify({ error: { message: `bad ${'x'.repeat(1024 * 1024)}` } }) });
    // The message was cut at 64 KiB, so the JSON did not parse: the generic message.
    await expect(provider.complete(makeCall({}))).rejects.toMatchObject({ code: 'bad_request', message: 'the upstream rejected the request' });
  });

  it('maps an error status by its status even when its body is cut', async () => {
    upstream.reply({ status: 429, headers: { 'retry-after': '7' }, body: '{"error":{"mess', destroy: true });
    await expect(provider.complete(makeCall({}))).rejects.toMatchObject({ code: 'too_many_requests', retryAfter: 7, upstreamStatus: 429 });
  });

  it('maps a refused connection to api_error, and a late answer to timeout', async () => {
    const refused = await unreachableProvider();
    try {
      await expect(collect(whole(makeCall({}), refused))).rejects.toMatchObject({ code: 'api_error', message: 'the upstream could not be reached' });
    } finally {
      await refused.close();
    }
    await provider.close();
    provider = newProvider({ replyTimeoutMs: 100 });
    upstream.reply({ body: JSON.stringify(VLLM_COMPLETION), headersDelayMs: 1000 });
    await expect(provider.complete(makeCall({}))).rejects.toMatchObject({ code: 'timeout', status: 504 });
  });

  it('rethrows an abort given before the call, without a request', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(provider.complete(makeCall({}, { signal: controller.signal }))).rejects.toBe(controller.signal.reason);
    expect(upstream.requests).toHaveLength(0);
  });

  it('rethrows an abort while waiting for the answer, and ends the upstream request', async () => {
    const controller = new AbortController();
    upstream.reply({ body: JSON.stringify(VLLM_COMPLETION), headersDelayMs: 5000 });
    const answer = provider.complete(makeCall({}, { signal: controller.signal }));
    await upstream.waitForRequest();
    controller.abort();
    await expect(answer).rejects.toBe(controller.signal.reason);
    await upstream.waitForClientClose();
    expect(upstream.closedBeforeEnd).toBe(1);
  });
});
