import { describe, expect, it } from 'vitest';
import { MoongateError, parseChatRequest } from '../../src/contract/index.js';

function failure(body: unknown): MoongateError {
  try {
    parseChatRequest(body);
  } catch (error) {
    if (error instanceof MoongateError) return error;
    throw error;
  }
  throw new Error('expected parseChatRequest to throw');
}

const hello = { model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }] };

describe('parseChatRequest', () => {
  it('accepts the seed request and applies defaults', () => {
    const req = parseChatRequest(hello);
    expect(req).toEqual({
      model: 'kimi-k2.5',
      messages: [{ role: 'user', content: 'Hello' }],
      stream: false,
      n: 1,
      response_format: 'text',
    });
  });

  it('treats null optional fields as absent', () => {
    const req = parseChatRequest({ ...hello, stream: null, n: null, max_tokens: null, temperature: null, stop: null });
    expect(req.stream).toBe(false);
    expect(req.n).toBe(1);
    expect(req).not.toHaveProperty('max_tokens');
    expect(req).not.toHaveProperty('temperature');
  });

  it.each([
    [{ ...hello, messages: [{ role: 'user', content: 'a' }, { role: 'robot', content: 'b' }] }, 'messages[1].role must be one of system, user, assistant, tool'],
    [{ messages: hello.messages }, 'model is required'],
    [{ model: 'kimi-k2.5' }, 'messages is required'],
    [{ ...hello, messages: [] }, 'messages must have at least 1 item(s)'],
    [{ ...hello, n: 0 }, 'n must be >= 1'],
    [{ ...hello, n: 129 }, 'n must be <= 128'],
    [{ ...hello, n: 1.5 }, 'n must be an integer'],
    [{ ...hello, temperature: 2.5 }, 'temperature must be <= 2'],
    [{ ...hello, temperature: 'hot' }, 'temperature must be a number'],
    [{ ...hello, stream: 'yes' }, 'stream must be a boolean'],
    [{ ...hello, max_tokens: 0 }, 'max_tokens must be >= 1'],
    [{ ...hello, top_p: 1.1 }, 'top_p must be <= 1'],
    [{ ...hello, response_format: { type: 'xml' } }, 'response_format.type must be one of text, json_object'],
    [{ ...hello, messages: [{ role: 'user' }] }, 'messages[0].content is required'],
    [{ ...hello, messages: [{ role: 'tool', content: '42' }] }, 'messages[0].tool_call_id is required for role tool'],
    [{ ...hello, messages: [{ role: 'user', content: 5 }] }, 'messages[0].content must be a string or an array of text parts'],
    [[1, 2], 'the request body must be a JSON object'],
    ['Hello', 'the request body must be a JSON object'],
  ])('names the field in a 400 bad_request (%#)', (body, message) => {
    const error = failure(body);
    expect(error.code).toBe('bad_request');
    expect(error.status).toBe(400);
    expect(error.message).toBe(message);
  });

  it('joins text parts into one string', () => {
    const req = parseChatRequest({
      ...hello,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hel' }, { type: 'text', text: 'lo' }] }],
    });
    expect(req.messages[0]?.content).toBe('Hello');
  });

  it('refuses part types other than text, image_url and video_url, and logprobs, as not implemented', () => {
    const audio = failure({
      ...hello,
      messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'x' } }] }],
    });
    expect(audio.code).toBe('api_not_implemented');
    expect(audio.message).toBe('messages[0].content[0].type "input_audio" is not implemented; text, image_url and video_url parts are accepted');
    expect(failure({ ...hello, logprobs: true }).code).toBe('api_not_implemented');
  });

  it('keeps image and video parts in order beside the joined text; whether the model takes them is checked later', () => {
    const parts = [
      { type: 'text', text: 'What is ' },
      { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'auto' } },
      { type: 'text', text: 'this?' },
      { type: 'video_url', video_url: { url: 'https://example.com/clip.mp4' } },
    ];
    const req = parseChatRequest({ ...hello, messages: [{ role: 'user', content: parts }] });
    expect(req.messages[0]).toEqual({ role: 'user', content: 'What is this?', parts });
    expect(failure({ ...hello, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }] }).message).toBe(
      'messages[0].content[0].image_url must be an object with a non-empty url',
    );
  });

  it('takes thinking, reasoning_effort and prompt_cache_options, and keeps unknown fields aside in extra', () => {
    const req = parseChatRequest({
      ...hello,
      thinking: { type: 'disabled', keep: null },
      reasoning_effort: 'low',
      prompt_cache_options: { ttl: '5m' },
      chat_template_kwargs: { enable_thinking: false },
    });
    expect(req.thinking).toEqual({ type: 'disabled', keep: null });
    expect(req.reasoning_effort).toBe('low');
    expect(req.prompt_cache_options).toEqual({ ttl: '5m' });
    expect(req.extra).toEqual({ chat_template_kwargs: { enable_thinking: false } });
    expect(parseChatRequest(hello)).not.toHaveProperty('extra');
    expect(failure({ ...hello, thinking: { type: 'auto' } }).message).toBe('thinking.type must be one of enabled, disabled');
    expect(failure({ ...hello, thinking: { type: 'enabled', keep: 'some' } }).message).toMatch(/^thinking\.keep /);
    expect(failure({ ...hello, thinking: { type: 'enabled', budget: 5 } }).code).toBe('bad_request');
    expect(failure({ ...hello, reasoning_effort: 'medium' }).message).toBe('reasoning_effort must be one of low, high, max');
  });

  it('normalises stop, max_completion_tokens and tools', () => {
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }];
    const req = parseChatRequest({ ...hello, stop: 'END', max_completion_tokens: 7, tools, tool_choice: 'auto' });
    expect(req.stop).toEqual(['END']);
    expect(req.max_tokens).toBe(7);
    expect(req.tools?.[0]?.function.name).toBe('get_weather');
    expect(failure({ ...hello, tools, tool_choice: { type: 'function', function: { name: 'nope' } } }).message).toMatch(
      /tool_choice\.function\.name "nope" is not one of the tools/,
    );
  });

  it('accepts an assistant message with tool calls and no content, and a tool result', () => {
    const req = parseChatRequest({
      ...hello,
      messages: [
        { role: 'user', content: 'weather?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' },
      ],
    });
    expect(req.messages[1]?.content).toBeNull();
    expect(req.messages[1]?.tool_calls?.[0]?.id).toBe('call_1');
  });
});

describe('tool schema depth', () => {
  function nested(depth: number): Record<string, unknown> {
    let schema: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < depth; i++) schema = { type: 'object', properties: { x: schema } };
    return schema;
  }

  it('refuses parameters nested deeper than 64 levels with a 400 naming the field', () => {
    const tools = [{ type: 'function', function: { name: 'ok', parameters: { type: 'object' } } }, { type: 'function', function: { name: 'deep', parameters: nested(100_000) } }];
    const error = failure({ ...hello, tools });
    expect(error.code).toBe('bad_request');
    expect(error.message).toBe('tools[1].function.parameters is nested more than 64 levels deep');
  });

  it('accepts ordinary nesting', () => {
    expect(parseChatRequest({ ...hello, tools: [{ type: 'function', function: { name: 'f', parameters: nested(10) } }] }).tools).toHaveLength(1);
  });
});
