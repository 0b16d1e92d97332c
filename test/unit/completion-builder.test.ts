import { describe, expect, it } from 'vitest';
import { makeUsage } from '../../src/contract/index.js';
import { ChunkEncoder } from '../../src/gateway/chunk-encoder.js';
import { CompletionBuilder } from '../../src/gateway/completion-builder.js';

describe('CompletionBuilder', () => {
  it('reports only the choices an upstream sent when it ignores n', () => {
    const builder = new CompletionBuilder('chatcmpl-0123456789abcdef', 1, 'kimi-k2-0905-preview', false, 3);
    builder.addDelta({ type: 'delta', index: 0, content: 'a' });
    builder.addDelta({ type: 'delta', index: 2, content: 'c' });
    builder.finish(0, 'stop');
    builder.finish(2, 'length');
    const body = builder.build(makeUsage(1, 2));
    expect(body.choices.map((c) => [c.index, c.message.content, c.finish_reason])).toEqual([
      [0, 'a', 'stop'],
      [2, 'c', 'length'],
    ]);
  });

  it('always has choice 0, and omits reasoning fields on a non-thinking model that did not reason', () => {
    const body = new CompletionBuilder('chatcmpl-0123456789abcdef', 1, 'kimi-k2-0905-preview', false, 1).build(makeUsage(9, 0));
    expect(body.choices).toHaveLength(1);
    expect(Object.keys(body.choices[0]?.message ?? {})).toEqual(['role', 'content', 'refusal', 'tool_calls']);
  });

  it('puts the message keys in the seed order on a thinking model', () => {
    const builder = new CompletionBuilder('chatcmpl-0123456789abcdef', 1, 'kimi-k2.5', true, 1);
    builder.addDelta({ type: 'delta', index: 0, reasoning: 'r', content: 'c' });
    const body = builder.build(makeUsage(9, 2));
    expect(Object.keys(body.choices[0]?.message ?? {})).toEqual(['role', 'content', 'refusal', 'reasoning_content', 'reasoning', 'tool_calls']);
    expect(Object.keys(body)).toEqual(['id', 'object', 'created', 'model', 'choices', 'usage']);
  });
});

describe('ChunkEncoder', () => {
  const encoder = new ChunkEncoder('chatcmpl-0123456789abcdef', 1770992031, 'kimi-k2.5');

  it('writes chunks in the seed key order', () => {
    const chunk = JSON.parse(encoder.role(0)) as Record<string, unknown>;
    expect(Object.keys(chunk)).toEqual(['id', 'object', 'created', 'model', 'system_fingerprint', 'choices', 'usage']);
    expect(chunk.choices).toEqual([{ index: 0, delta: { content: '', role: 'assistant' }, logprobs: null, finish_reason: null }]);
  });

  it('writes reasoning under both names, and the first tool-call delta with id and type', () => {
    const both = JSON.parse(encoder.delta({ type: 'delta', index: 0, content: 'x', reasoning: 'y' })) as {
      choices: { delta: Record<string, unknown> }[];
    };
    expect(both.choices[0]?.delta).toEqual({ content: 'x', reasoning_content: 'y', reasoning: 'y' });
    const call = JSON.parse(
      encoder.delta({ type: 'delta', index: 0, toolCalls: [{ index: 0, id: 'call_1', name: 'f', arguments: '{' }] }),
    ) as { choices: { delta: Record<string, unknown> }[] };
    expect(call.choices[0]?.delta).toEqual({
      tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '{' } }],
    });
  });

  it('writes each chunk byte for byte as JSON.stringify of the whole chunk object would', () => {
    const odd = new ChunkEncoder('chatcmpl-"quoted"\\', 7, 'kimi-k2-0905-preview "x"');
    const whole = (choices: unknown[], usage: unknown): string =>
      JSON.stringify({ id: 'chatcmpl-"quoted"\\', object: 'chat.completion.chunk', created: 7, model: 'kimi-k2-0905-preview "x"', system_fingerprint: null, choices, usage });
    expect(odd.role(1)).toBe(whole([{ index: 1, delta: { content: '', role: 'assistant' }, logprobs: null, finish_reason: null }], null));
    expect(odd.delta({ type: 'delta', index: 0, content: 'a\n"b"' })).toBe(
      whole([{ index: 0, delta: { content: 'a\n"b"' }, logprobs: null, finish_reason: null }], null),
    );
    // The plain text deltas take a shortcut of their own: the same bytes, for any text.
    for (const text of ['', 'a\u2028b\u0000 \ud83d\ude80 \ud800 lone', '</script>']) {
      expect(odd.delta({ type: 'delta', index: 2, content: text })).toBe(whole([{ index: 2, delta: { content: text }, logprobs: null, finish_reason: null }], null));
      expect(odd.delta({ type: 'delta', index: 0, reasoning: text })).toBe(
        whole([{ index: 0, delta: { reasoning_content: text, reasoning: text }, logprobs: null, finish_reason: null }], null),
      );
    }
    expect(odd.delta({ type: 'delta', index: 0, content: 'c', reasoning: 'r' })).toBe(
      whole([{ index: 0, delta: { content: 'c', reasoning_content: 'r', reasoning: 'r' }, logprobs: null, finish_reason: null }], null),
    );
    expect(odd.finish(0, 'length')).toBe(whole([{ index: 0, delta: {}, logprobs: null, finish_reason: 'length' }], null));
    expect(odd.usage(makeUsage(9, 5, 3))).toBe(whole([], makeUsage(9, 5, 3)));
  });

  it('sends usage with empty choices', () => {
    const chunk = JSON.parse(encoder.usage(makeUsage(9, 5))) as Record<string, unknown>;
    expect(chunk.choices).toEqual([]);
    expect(chunk.usage).toEqual(makeUsage(9, 5));
  });
});
