/**
 * The fields the current Kimi models take, as the upstream receives them (issue 18):
 * moongate on port 0 in front of two recording upstreams, a Moonshot channel serving
 * kimi-k2.6 and kimi-k3 and a vLLM (openai-compatible) channel serving
 * kimi-k2-instruct-0905 with `passthrough: ["chat_template_kwargs"]`. Each body is compared
 * field by field; every local refusal is made before a hold and before any upstream call.
 */
import type { FastifyInstance } from 'fastify';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BUILT_IN_LOOKUP, type ModelLookup } from '../../src/contract/models.js';
import { channelSchema, routingSchema, toChannelSpec, type ChannelSpec } from '../../src/channels/channel-config.js';
import { createChannelProvider } from '../../src/channels/create-channel-provider.js';
import { MEDIA_HOLD_TOKENS, TRACE_ID_PATTERN } from '../../src/contract/index.js';
import { ChannelRouter } from '../../src/gateway/channel-router.js';
import { ChatGateway } from '../../src/gateway/chat-gateway.js';
import type { AuthenticatedCaller, HoldRequest, QuotaHold } from '../../src/gateway/pipeline.js';
import { buildApp } from '../../src/http/app.js';
import type { Provider } from '../../src/providers/provider.js';
import { decodeSse } from '../../src/sse/index.js';
import { FakeUpstream, readFixture } from '../helpers/fake-upstream.js';
import { RecordingAdmitter } from '../helpers/recording-admitter.js';

const CALLER: AuthenticatedCaller = { credentialId: 'cred_1', personId: 'per_1', applicationId: 'app_1', serviceId: 'svc_1', global: false };
const USER = [{ role: 'user', content: 'Hello' }];
/** A non-stream request goes upstream as one `stream: false` call (docs/channels.md). */
const NON_STREAM_FIELDS = { stream: false };

/** Records what each hold was asked for, beside the helper's settlement count. */
class HoldRecorder extends RecordingAdmitter {
  readonly tickets: HoldRequest[] = [];
  override admit(ticket: HoldRequest): Promise<QuotaHold> {
    this.tickets.push(ticket);
    return super.admit(ticket);
  }
}

/** A channel as the config file declares it, then serving the given public → upstream names. */
function channel(input: Record<string, unknown>, models: Record<string, string>): ChannelSpec {
  return { ...toChannelSpec(channelSchema.parse({ ...input, models: '*' }), 'file'), models, everyModel: false };
}

let moonshot: FakeUpstream;
let vllm: FakeUpstream;
let app: FastifyInstance;
let url: string;
let admitter: HoldRecorder;
const providers: Provider[] = [];

beforeAll(async () => {
  moonshot = await FakeUpstream.start();
  vllm = await FakeUpstream.start();
  const specs = [
    channel({ name: 'moonshot', kind: 'moonshot', baseUrl: moonshot.baseUrl, apiKey: 'sk-operator' }, {
      'kimi-k2.6': 'kimi-k2.6',
      'kimi-k3': 'kimi-k3',
      'kimi-k2.5': 'kimi-k2.5',
    }),
    channel({ name: 'vllm', kind: 'openai-compatible', baseUrl: vllm.baseUrl, passthrough: ['chat_template_kwargs'] }, {
      'kimi-k2-instruct-0905': 'moonshotai/Kimi-K2-Instruct-0905',
    }),
  ];
  const channels = specs.map((spec) => {
    const provider = createChannelProvider(spec);
    providers.push(provider);
    return { spec, provider };
  });
  admitter = new HoldRecorder();
  const router = new ChannelRouter(channels, routingSchema.parse({ maxAttempts: 1, backoffMs: 0 }));
  // The current Moonshot models ship switched off (docs/models.md); this server has them on.
  const models: ModelLookup = {
    find: (id) => {
      const model = BUILT_IN_LOOKUP.find(id);
      return model?.state === 'off' ? { ...model, state: 'active' } : model;
    },
    listed: () => BUILT_IN_LOOKUP.listed(),
  };
  const gateway = new ChatGateway({ authenticate: () => Promise.resolve(CALLER), router, admitter, models });
  app = buildApp({ gateway, maxBodyBytes: 16 * 1024 * 1024, logger: false });
  url = await app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await app?.close();
  for (const provider of providers) await provider.close?.();
  await moonshot?.close();
  await vllm?.close();
});
beforeEach(() => {
  moonshot.requests.length = 0;
  vllm.requests.length = 0;
});

function post(body: Record<string, unknown>): Promise<Response> {
  return fetch(`${url}/kimi/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer mg-test' },
    body: JSON.stringify(body),
  });
}

async function sent(upstream: FakeUpstream, body: Record<string, unknown>): Promise<unknown> {
  const res = await post(body);
  expect(res.status).toBe(200);
  await res.arrayBuffer();
  expect(upstream.requests).toHaveLength(1);
  return upstream.requests[0]?.body;
}

describe('bodies sent upstream', () => {
  it('thinking off on kimi-k2.6: sent as given, with the cap as max_completion_tokens', async () => {
    moonshot.stream(readFixture('moonshot/non-thinking-stream.sse'));
    const body = await sent(moonshot, { model: 'kimi-k2.6', messages: USER, thinking: { type: 'disabled' } });
    expect(body).toEqual({
      model: 'kimi-k2.6',
      messages: USER,
      ...NON_STREAM_FIELDS,
      max_completion_tokens: 32_768,
      thinking: { type: 'disabled' },
    });
  });

  it('reasoning_effort and max_completion_tokens on kimi-k3; its fixed temperature, sent as its own value, is not sent', async () => {
    moonshot.stream(readFixture('moonshot/thinking-stream.sse'));
    const body = await sent(moonshot, { model: 'kimi-k3', messages: USER, reasoning_effort: 'low', max_completion_tokens: 4096, temperature: 1 });
    expect(body).toEqual({ model: 'kimi-k3', messages: USER, ...NON_STREAM_FIELDS, max_completion_tokens: 4096, reasoning_effort: 'low' });
  });

  it("a seed model on the same channel still gets max_tokens, from either name", async () => {
    moonshot.stream(readFixture('moonshot/thinking-stream.sse'));
    const body = await sent(moonshot, { model: 'kimi-k2.5', messages: USER, max_completion_tokens: 100 });
    expect(body).toEqual({ model: 'kimi-k2.5', messages: USER, ...NON_STREAM_FIELDS, max_tokens: 100 });
  });

  it('an image part goes as the parts, in order; the hold counts it at its worst case', async () => {
    moonshot.stream(readFixture('moonshot/thinking-stream.sse'));
    const content = [
      { type: 'text', text: 'What is in ' },
      { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==' } },
      { type: 'text', text: 'this picture?' },
    ];
    const textOnly = await (async () => {
      moonshot.stream(readFixture('moonshot/thinking-stream.sse'));
      await sent(moonshot, { model: 'kimi-k2.6', messages: [{ role: 'user', content: 'What is in this picture?' }] });
      moonshot.requests.length = 0;
      return admitter.tickets.at(-1)?.promptTokens ?? 0;
    })();
    const body = await sent(moonshot, { model: 'kimi-k2.6', messages: [{ role: 'user', content }] });
    expect(body).toEqual({ model: 'kimi-k2.6', messages: [{ role: 'user', content }], ...NON_STREAM_FIELDS, max_completion_tokens: 32_768 });
    expect(admitter.tickets.at(-1)?.promptTokens).toBe(textOnly + MEDIA_HOLD_TOKENS.image);
  });

  it('prompt_cache_options reaches Moonshot as sent', async () => {
    moonshot.stream(readFixture('moonshot/thinking-stream.sse'));
    const body = await sent(moonshot, { model: 'kimi-k2.6', messages: USER, prompt_cache_options: { ttl: '1h' } });
    expect(body).toMatchObject({ prompt_cache_options: { ttl: '1h' } });
  });

  it("a vLLM channel gets the fields it names in passthrough, and no other unknown field", async () => {
    vllm.stream(readFixture('openai-compatible/vllm-reasoning-stream.sse'));
    const body = await sent(vllm, {
      model: 'kimi-k2-instruct-0905',
      messages: USER,
      max_tokens: 64,
      chat_template_kwargs: { enable_thinking: false },
      prompt_cache_options: { ttl: '5m' },
      top_k: 20,
    });
    expect(body).toEqual({
      model: 'moonshotai/Kimi-K2-Instruct-0905',
      messages: USER,
      ...NON_STREAM_FIELDS,
      max_tokens: 64,
      chat_template_kwargs: { enable_thinking: false },
    });
  });
});

describe('a tool-call turn, both directions', () => {
  const turn = [
    { role: 'user', content: 'Weather and time in Seoul?' },
    {
      role: 'assistant',
      content: null,
      reasoning_content: 'Two tools: weather first, then the time.',
      tool_calls: [
        { id: 'get_weather:0', type: 'function', function: { name: 'get_weather', arguments: '{"city":"서울"}' } },
        { id: 'get_time:1', type: 'function', function: { name: 'get_time', arguments: '{"tz":"Asia/Seoul"}' } },
      ],
    },
    { role: 'tool', tool_call_id: 'get_weather:0', content: '{"temp":21}' },
    { role: 'tool', tool_call_id: 'get_time:1', content: '{"time":"09:00"}' },
  ];
  const tools = ['get_weather', 'get_time'].map((name) => ({ type: 'function', function: { name, parameters: { type: 'object' } } }));

  it('sends reasoning_content and the name:index ids unchanged', async () => {
    moonshot.stream(readFixture('moonshot/tool-call-stream.sse'));
    const body = await sent(moonshot, { model: 'kimi-k2.6', messages: turn, tools });
    expect((body as { messages: unknown }).messages).toEqual(turn);
  });

  it('a long history goes with every message as the client sent it, whether its body was ASCII or UTF-8 (json-source.ts)', async () => {
    const long = (seed: string): string => `${seed} the plain start. ${'He said "go/stop" \\ then\n\ttabbed, 한국어 😀, '.repeat(2_000)}`;
    const history = [
      { role: 'system', content: long('System') },
      { role: 'user', content: long('User') },
      { ...turn[1], reasoning_content: long('Thinking') },
      ...turn.slice(2),
      { role: 'user', content: 'short' },
    ];
    const json = JSON.stringify({ model: 'kimi-k2.6', messages: history, tools });
    // Python's json.dumps writes ASCII with \u escapes; JavaScript clients write UTF-8.
    const asciiJson = json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    for (const text of [json, asciiJson]) {
      moonshot.requests.length = 0;
      moonshot.stream(readFixture('moonshot/tool-call-stream.sse'));
      const res = await fetch(`${url}/kimi/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer mg-test' },
        body: text,
      });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      expect((moonshot.requests[0]?.body as { messages: unknown }).messages).toEqual(history);
    }
  });

  it('hands the upstream name:index ids to the client as they came, non-stream and stream (openai client)', async () => {
    const client = new OpenAI({ apiKey: 'mg-test', baseURL: `${url}/kimi`, maxRetries: 0 });
    moonshot.stream(readFixture('moonshot/tool-call-stream.sse'));
    const completion = await client.chat.completions.create({ model: 'kimi-k2.6', messages: [{ role: 'user', content: 'Weather?' }] });
    expect(completion.choices[0]?.message.tool_calls?.map((c) => c.id)).toEqual(['get_weather:0', 'get_time:1']);

    moonshot.stream(readFixture('moonshot/tool-call-stream.sse'));
    const res = await post({ model: 'kimi-k2.6', messages: [{ role: 'user', content: 'Weather?' }], stream: true });
    const ids: string[] = [];
    for await (const event of decodeSse(res.body as AsyncIterable<Uint8Array>)) {
      if (event.data === '[DONE]') break;
      const chunk = JSON.parse(event.data) as { choices: { delta: { tool_calls?: { id?: string }[] } }[] };
      for (const call of chunk.choices[0]?.delta.tool_calls ?? []) if (call.id !== undefined) ids.push(call.id);
    }
    expect(ids).toEqual(['get_weather:0', 'get_time:1']);
  });
});

describe('local refusals', () => {
  const png = 'data:image/png;base64,iVBORw0KGgo=';
  it.each([
    ['both thinking and reasoning_effort', { model: 'kimi-k3', messages: USER, thinking: { type: 'enabled' }, reasoning_effort: 'max' }, 'bad_request', 'thinking and reasoning_effort'],
    ['thinking off on an always-thinking model', { model: 'kimi-k3', messages: USER, thinking: { type: 'disabled' } }, 'bad_request', 'kimi-k3 always thinks'],
    ['thinking on a model that never thinks', { model: 'kimi-k2-instruct-0905', messages: USER, thinking: { type: 'enabled' } }, 'bad_request', 'does not think'],
    ['reasoning_effort on a model without efforts', { model: 'kimi-k2.6', messages: USER, reasoning_effort: 'low' }, 'bad_request', 'reasoning_effort is not supported by kimi-k2.6'],
    ['a changed fixed temperature', { model: 'kimi-k2.6', messages: USER, temperature: 0.2 }, 'bad_request', 'temperature'],
    ['n on a model that fixes it', { model: 'kimi-k3', messages: USER, n: 2 }, 'bad_request', 'n to be changed'],
    ['a cap beyond the largest completion', { model: 'kimi-k3', messages: USER, max_completion_tokens: 2_000_000 }, 'bad_request', 'max_completion_tokens'],
    ['an image to a text-only model', { model: 'kimi-k2-instruct-0905', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: png } }] }] }, 'api_not_implemented', 'does not take image input'],
    ['a URL to a model that takes data URIs only', { model: 'kimi-k3', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }] }, 'bad_request', 'data URIs only'],
    ['a private host', { model: 'kimi-k2.6', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://169.254.169.254/a.png' } }] }] }, 'bad_request', 'public host'],
  ])('%s: 400 in the envelope, no hold, no upstream call', async (_name, body, code, mentions) => {
    const before = admitter.admitted;
    const res = await post(body);
    expect(res.status).toBe(400);
    const answer = (await res.json()) as { success: boolean; error: { code: string; message: string }; trace_id: string };
    expect(answer.success).toBe(false);
    expect(answer.error.code).toBe(code);
    expect(answer.error.message).toContain(mentions);
    expect(answer.trace_id).toMatch(TRACE_ID_PATTERN);
    expect(admitter.admitted).toBe(before);
    expect(moonshot.requests).toHaveLength(0);
    expect(vllm.requests).toHaveLength(0);
  });
});
