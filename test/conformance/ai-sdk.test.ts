/**
 * The Vercel AI SDK (`ai` with `@ai-sdk/openai-compatible`), unmodified, against a real moongate.
 */
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { generateText, streamText } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

let moongate: TestServer;
let kimi: ReturnType<typeof createOpenAICompatible>;

beforeAll(async () => {
  moongate = await startTestServer();
  kimi = createOpenAICompatible({ name: 'moongate', baseURL: `${moongate.url}/v1`, apiKey: moongate.token, includeUsage: true });
});
afterAll(async () => {
  await moongate?.close();
});

describe('AI SDK', () => {
  it('generateText returns text, reasoning and usage', async () => {
    const result = await generateText({ model: kimi('kimi-k2.5'), prompt: 'Hello', maxRetries: 0 });
    expect(result.text).toMatch(/simulat/i);
    expect(result.reasoningText?.length ?? 0).toBeGreaterThan(0);
    expect(result.finishReason).toBe('stop');
    expect(result.usage.inputTokens).toBe(9);
    expect(result.usage.outputTokens).toBeGreaterThan(0);
  });

  it('streamText yields reasoning parts before text parts', async () => {
    const result = streamText({ model: kimi('kimi-k2-thinking-turbo'), prompt: 'Hello', maxRetries: 0 });
    const kinds: string[] = [];
    let text = '';
    let reasoning = '';
    for await (const part of result.fullStream) {
      if (part.type === 'reasoning-delta') {
        kinds.push('reasoning');
        reasoning += part.text;
      } else if (part.type === 'text-delta') {
        kinds.push('text');
        text += part.text;
      } else if (part.type === 'error') {
        throw part.error instanceof Error ? part.error : new Error(String(part.error));
      }
    }
    expect(reasoning.length).toBeGreaterThan(0);
    expect(text).toMatch(/simulat/i);
    expect(kinds.indexOf('text')).toBeGreaterThan(kinds.lastIndexOf('reasoning'));
    const usage = await result.usage;
    expect(usage.inputTokens).toBe(9);
    expect(await result.finishReason).toBe('stop');
  });

  it('streamText on a non-thinking model has no reasoning', async () => {
    const result = streamText({ model: kimi('kimi-k2-instruct-0905'), prompt: 'Hello', maxRetries: 0 });
    let reasoningParts = 0;
    for await (const part of result.fullStream) if (part.type === 'reasoning-delta') reasoningParts++;
    expect(reasoningParts).toBe(0);
    expect(await result.text).toMatch(/simulat/i);
  });
});
