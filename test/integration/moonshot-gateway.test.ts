/**
 * moongate with MOONSHOT_API_KEY set, in front of a local fake that speaks Moonshot's
 * documented wire format: clients get the seed's shape whatever variant Moonshot sends,
 * and Moonshot's errors become SPEC.md's, never leaking the operator's key.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TRACE_ID_PATTERN } from '../../src/contract/index.js';
import { decodeSse } from '../../src/sse/index.js';
import { FakeUpstream, readFixture } from '../helpers/fake-upstream.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const OPERATOR_KEY = 'sk-operator-secret-0123456789';

let moonshot: FakeUpstream;
let moongate: TestServer;

beforeAll(async () => {
  moonshot = await FakeUpstream.start();
  moongate = await startTestServer({ env: { MOONSHOT_API_KEY: OPERATOR_KEY, MOONSHOT_BASE_URL: moonshot.baseUrl } });
});
afterAll(async () => {
  await moongate?.close();
  await moonshot?.close();
});
beforeEach(() => {
  moonshot.requests.length = 0;
});

function post(body: Record<string, unknown>): Promise<Response> {
  return moongate.chat({ messages: [{ role: 'user', content: '안녕하세요' }], ...body });
}

async function chunksOf(res: Response): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const e of decodeSse(res.body as AsyncIterable<Uint8Array>)) {
    if (e.data === '[DONE]') break;
    out.push(JSON.parse(e.data) as Record<string, unknown>);
  }
  return out;
}

describe('Moonshot upstream', () => {
  it('sends the operator key and a streaming body, never the client token', async () => {
    moonshot.stream(readFixture('moonshot/thinking-stream.sse'));
    const res = await post({ model: 'kimi-k2.5', temperature: 0.3, stream: true });
    expect(res.status).toBe(200);
    const sent = moonshot.requests[0];
    expect(sent?.path).toBe('/v1/chat/completions');
    expect(sent?.headers.authorization).toBe(`Bearer ${OPERATOR_KEY}`);
    expect(JSON.stringify(sent?.headers)).not.toContain(moongate.token);
    expect(sent?.body).toEqual({
      model: 'kimi-k2.5',
      messages: [{ role: 'user', content: '안녕하세요' }],
      stream: true,
      stream_options: { include_usage: true },
      // No max_tokens from the client: the model's default cap, which admission held for.
      max_tokens: 32_768,
      // kimi-k2.5 accepts only temperature 1: anything else is dropped (SPEC.md).
    });
  });

  it('asks Moonshot for a non-stream request as one stream: false call, and answers one completion even when Moonshot streams anyway', async () => {
    moonshot.stream(readFixture('moonshot/thinking-stream.sse'));
    const res = await post({ model: 'kimi-k2.5' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { object: string }).object).toBe('chat.completion');
    expect(moonshot.requests[0]?.headers.accept).toBe('application/json');
    expect(moonshot.requests[0]?.body).toEqual({
      model: 'kimi-k2.5',
      messages: [{ role: 'user', content: '안녕하세요' }],
      stream: false,
      max_tokens: 32_768,
    });
  });

  it.each([
    ['a completion', (): void => void moonshot.reply({ body: readFixture('moonshot/thinking-completion.json') })],
    ['a stream, when Moonshot streams anyway', (): void => void moonshot.stream(readFixture('moonshot/thinking-stream.sse'))],
  ])('adds `reasoning` beside reasoning_content and reports Moonshot usage, non-stream, from %s', async (_name, script) => {
    script();
    const body = (await (await post({ model: 'kimi-k2.5' })).json()) as {
      choices: { message: Record<string, unknown>; finish_reason: string }[];
      usage: Record<string, unknown>;
    };
    const message = body.choices[0]?.message ?? {};
    expect(message.content).toBe('안녕하세요! 무엇을 도와드릴까요?');
    expect(message.reasoning_content).toBe('The user greets me in Korean: "안녕하세요". I should answer warmly 👋\n\nand offer help.');
    expect(message.reasoning).toBe(message.reasoning_content);
    expect(body.choices[0]?.finish_reason).toBe('stop');
    expect(body.usage).toEqual({
      prompt_tokens: 20,
      completion_tokens: 31,
      total_tokens: 51,
      prompt_tokens_details: { cached_tokens: 16, cached_tokens_details: {} },
      completion_tokens_details: {},
    });
  });

  it('moves usage out of choices[0] into the separate usage chunk, stream', async () => {
    moonshot.stream(readFixture('moonshot/usage-in-choice-stream.sse'), { chunking: 7 });
    const chunks = await chunksOf(await post({ model: 'kimi-k2-0905-preview', stream: true }));
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage).toMatchObject({ prompt_tokens: 19, completion_tokens: 13, total_tokens: 32 });
    for (const chunk of chunks.slice(0, -1)) {
      expect(chunk.usage).toBeNull();
      for (const choice of chunk.choices as Record<string, unknown>[]) expect(choice).not.toHaveProperty('usage');
    }
  });

  it.each([
    [401, 'invalid_authentication_error', 500, 'api_error'],
    [403, 'permission_denied_error', 500, 'api_error'],
    [429, 'exceeded_current_quota_error', 500, 'api_error'],
    [500, 'server_error', 500, 'api_error'],
    [400, 'invalid_request_error', 400, 'bad_request'],
    [429, 'rate_limit_reached_error', 429, 'too_many_requests'],
  ])('maps Moonshot %i %s to %i %s without leaking the key', async (status, type, clientStatus, code) => {
    moonshot.reply({
      status,
      headers: { 'content-type': 'application/json', 'retry-after': '3' },
      body: JSON.stringify({ error: { type, message: `Incorrect API key provided: ${OPERATOR_KEY}` } }),
    });
    const res = await post({ model: 'kimi-k2-turbo-preview' });
    const text = await res.text();
    expect(text).not.toContain(OPERATOR_KEY);
    expect(text).not.toContain('sk-operator');
    const body = JSON.parse(text) as { success: boolean; error: { code: string }; trace_id: string };
    expect({ status: res.status, code: body.error.code }).toEqual({ status: clientStatus, code });
    expect(body.trace_id).toMatch(TRACE_ID_PATTERN);
    if (clientStatus === 429) expect(res.headers.get('retry-after')).toBe('3');
  });

  it('answers 500 api_error when Moonshot cannot be reached', async () => {
    const gone = await FakeUpstream.start();
    const baseUrl = gone.baseUrl;
    await gone.close();
    const server = await startTestServer({ env: { MOONSHOT_API_KEY: OPERATOR_KEY, MOONSHOT_BASE_URL: baseUrl } });
    try {
      const res = await fetch(`${server.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${server.token}` },
        body: JSON.stringify({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }], stream: true }),
      });
      expect(res.status).toBe(500);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('api_error');
      expect(body.error.message).not.toContain('127.0.0.1');
    } finally {
      await server.close();
    }
  });
});
