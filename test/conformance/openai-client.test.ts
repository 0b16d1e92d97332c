/**
 * The official `openai` npm client, unmodified, against a real moongate.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPLETION_ID_PATTERN, MoongateError } from '../../src/contract/index.js';
import { ScriptedProvider } from '../helpers/scripted-provider.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

let moongate: TestServer;
let client: OpenAI;

beforeAll(async () => {
  moongate = await startTestServer();
  client = new OpenAI({ baseURL: `${moongate.url}/v1`, apiKey: moongate.token, maxRetries: 0 });
});
afterAll(async () => {
  await moongate?.close();
});

/** Kimi's extra message fields, which openai-node passes through untyped. */
interface KimiMessageExtras {
  reasoning_content?: string;
  reasoning?: string;
}

describe('openai npm client', () => {
  it('gets a non-stream completion in the seed shape', async () => {
    const completion = await client.chat.completions.create({
      model: 'kimi-k2.5',
      messages: [{ role: 'user', content: 'Hello' }],
    });
    expect(completion.id).toMatch(COMPLETION_ID_PATTERN);
    expect(completion.object).toBe('chat.completion');
    expect(completion.model).toBe('kimi-k2.5');
    const message = completion.choices[0]?.message as (typeof completion.choices)[0]['message'] & KimiMessageExtras;
    expect(message.content).toMatch(/simulat/i);
    expect(message.reasoning_content).toBeTruthy();
    expect(message.reasoning).toBe(message.reasoning_content);
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.usage?.prompt_tokens).toBe(9);
    expect(completion.usage?.total_tokens).toBe((completion.usage?.prompt_tokens ?? 0) + (completion.usage?.completion_tokens ?? 0));
  });

  it('streams chunks, reasoning first, then content, then a usage chunk', async () => {
    const stream = await client.chat.completions.create({
      model: 'kimi-k2-thinking',
      messages: [{ role: 'user', content: 'Hello' }],
      stream: true,
    });
    let reasoning = '';
    let content = '';
    let sawContentBeforeReasoningEnded = false;
    let usageChunks = 0;
    let finish: string | null = null;
    const ids = new Set<string>();
    for await (const chunk of stream) {
      ids.add(chunk.id);
      if (chunk.usage) {
        usageChunks++;
        expect(chunk.choices).toEqual([]);
        expect(chunk.usage.prompt_tokens).toBe(9);
      }
      for (const choice of chunk.choices) {
        const delta = choice.delta as typeof choice.delta & KimiMessageExtras;
        if (delta.reasoning_content) {
          if (content !== '') sawContentBeforeReasoningEnded = true;
          expect(delta.reasoning).toBe(delta.reasoning_content);
          reasoning += delta.reasoning_content;
        }
        if (delta.content) content += delta.content;
        if (choice.finish_reason) finish = choice.finish_reason;
      }
    }
    expect(ids.size).toBe(1);
    expect(reasoning.length).toBeGreaterThan(0);
    expect(content).toMatch(/simulat/i);
    expect(sawContentBeforeReasoningEnded).toBe(false);
    expect(usageChunks).toBe(1);
    expect(finish).toBe('stop');
  });

  it('calls tools with arguments that parse as the schema asks', async () => {
    const completion = await client.chat.completions.create({
      model: 'kimi-k2-turbo-preview',
      messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'Current weather for a city',
            parameters: {
              type: 'object',
              properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
              required: ['city', 'unit'],
            },
          },
        },
      ],
    });
    const choice = completion.choices[0];
    expect(choice?.finish_reason).toBe('tool_calls');
    const call = choice?.message.tool_calls?.[0];
    expect(call?.type).toBe('function');
    if (call?.type !== 'function') throw new Error('expected a function call');
    expect(call.function.name).toBe('get_weather');
    const args = JSON.parse(call.function.arguments) as { city: unknown; unit: unknown };
    expect(typeof args.city).toBe('string');
    expect(['celsius', 'fahrenheit']).toContain(args.unit);
  });

  it('answers with one JSON object in JSON mode', async () => {
    const completion = await client.chat.completions.create({
      model: 'kimi-k2-0905-preview',
      messages: [{ role: 'user', content: 'Give me a JSON object describing a cat' }],
      response_format: { type: 'json_object' },
    });
    const parsed: unknown = JSON.parse(completion.choices[0]?.message.content ?? '');
    expect(parsed).toBeTypeOf('object');
    expect(Array.isArray(parsed)).toBe(false);
  });

  it('returns n=2 choices', async () => {
    const completion = await client.chat.completions.create({
      model: 'kimi-k2-0711-preview',
      messages: [{ role: 'user', content: 'Tell me a fact' }],
      n: 2,
    });
    expect(completion.choices.map((c) => c.index)).toEqual([0, 1]);
    expect(completion.choices[0]?.message.content).not.toBe(completion.choices[1]?.message.content);
  });

  it('raises AuthenticationError for a bad token and NotFoundError for an unknown model', async () => {
    const bad = new OpenAI({ baseURL: `${moongate.url}/v1`, apiKey: 'mg-not-a-real-token', maxRetries: 0 });
    const authError = await bad.chat.completions
      .create({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }] })
      .catch((e: unknown) => e);
    expect(authError).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((authError as InstanceType<typeof OpenAI.AuthenticationError>).status).toBe(401);

    const notFound = await client.chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello' }] })
      .catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('raises RateLimitError on a 429, with retry-after', async () => {
    const limited = await startTestServer({
      provider: new ScriptedProvider([
        { type: 'throw', error: new MoongateError('too_many_requests', undefined, { retryAfter: 7 }) },
      ]),
    });
    try {
      const c = new OpenAI({ baseURL: `${limited.url}/v1`, apiKey: limited.token, maxRetries: 0 });
      const error = await c.chat.completions
        .create({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }] })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.RateLimitError);
      const rateLimit = error as InstanceType<typeof OpenAI.RateLimitError>;
      expect(rateLimit.headers?.get('retry-after')).toBe('7');
      expect(rateLimit.headers?.get('x-trace-id')).toMatch(/^[0-9a-f-]{36}$/);
    } finally {
      await limited.close();
    }
  });
});
