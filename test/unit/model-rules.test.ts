/**
 * The per-model request rules (docs/requests.md): every refusal names the field and the
 * model, the fixed sampling values a model uses anyway are dropped, media are held at their
 * documented worst case, and a data URI's size comes from its length.
 */
import { describe, expect, it } from 'vitest';
import {
  MEDIA_HOLD_TOKENS,
  MEDIA_LIMITS,
  MoongateError,
  checkAgainstModel,
  completionCapField,
  findModel,
  isPrivateHost,
  parseChatRequest,
  type KimiModel,
} from '../../src/contract/index.js';

function model(id: string): KimiModel {
  const found = findModel(id);
  if (found === undefined) throw new Error(`no model ${id}`);
  return found;
}

function check(id: string, fields: Record<string, unknown>, content: unknown = 'Hello'): ReturnType<typeof checkAgainstModel> {
  return checkAgainstModel(parseChatRequest({ model: id, messages: [{ role: 'user', content }], ...fields }), model(id));
}

function refusal(id: string, fields: Record<string, unknown>, content?: unknown): MoongateError {
  try {
    check(id, fields, content);
  } catch (error) {
    if (error instanceof MoongateError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

const image = (url: string): unknown[] => [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url } }];
const PNG = `data:image/png;base64,${'A'.repeat(400)}`;

describe('thinking and reasoning_effort', () => {
  it('passes thinking to a switchable model and reasoning_effort to a model that lists it', () => {
    expect(check('kimi-k2.6', { thinking: { type: 'disabled' } }).request.thinking).toEqual({ type: 'disabled' });
    expect(check('kimi-k3', { reasoning_effort: 'low' }).request.reasoning_effort).toBe('low');
  });

  it.each([
    ['kimi-k3', { thinking: { type: 'enabled' }, reasoning_effort: 'high' }, 'thinking and reasoning_effort cannot be sent together; send one of them'],
    ['kimi-k2.6', { reasoning_effort: 'high' }, 'reasoning_effort is not supported by kimi-k2.6'],
    ['kimi-k2.5', { reasoning_effort: 'max' }, 'reasoning_effort is not supported by kimi-k2.5'],
    ['kimi-k3', { thinking: { type: 'disabled' } }, 'kimi-k3 always thinks; thinking.type cannot be disabled'],
    ['kimi-k2.7-code', { thinking: { type: 'disabled' } }, 'kimi-k2.7-code always thinks; thinking.type cannot be disabled'],
    ['kimi-k2-0905-preview', { thinking: { type: 'enabled' } }, 'kimi-k2-0905-preview does not think; thinking.type cannot be enabled'],
  ])('%s refuses %j', (id, fields, message) => {
    const error = refusal(id, fields);
    expect(error.code).toBe('bad_request');
    expect(error.status).toBe(400);
    expect(error.message).toBe(message);
  });

  it('accepts thinking off on a model that never thinks, and does not send it', () => {
    expect(check('kimi-k2-0905-preview', { thinking: { type: 'disabled' } }).request).not.toHaveProperty('thinking');
  });
});

describe('completion cap and fixed sampling', () => {
  it('names the cap as each model honours it', () => {
    expect(completionCapField(model('kimi-k2.5'))).toBe('max_tokens');
    expect(completionCapField(model('kimi-k2-instruct-0905'))).toBe('max_tokens');
    expect(completionCapField(model('kimi-k3'))).toBe('max_completion_tokens');
    expect(completionCapField(model('kimi-k2.6'))).toBe('max_completion_tokens');
  });

  it("bounds the cap by the model's largest completion", () => {
    const k3 = model('kimi-k3');
    expect(check('kimi-k3', { max_completion_tokens: k3.maxCompletionTokens }).request.max_tokens).toBe(k3.maxCompletionTokens);
    expect(refusal('kimi-k3', { max_completion_tokens: k3.maxCompletionTokens + 1 }).message).toBe(
      `max_completion_tokens must be <= ${k3.maxCompletionTokens} for kimi-k3`,
    );
  });

  it.each([
    [{ temperature: 0.3 }, 'kimi-k3 does not allow temperature to be changed from 1; leave it out'],
    [{ top_p: 0.5 }, 'kimi-k3 does not allow top_p to be changed from 0.95; leave it out'],
    [{ n: 2 }, 'kimi-k3 does not allow n to be changed from 1; leave it out'],
    [{ presence_penalty: 0.5 }, 'kimi-k3 does not allow presence_penalty to be changed from 0; leave it out'],
    [{ frequency_penalty: -1 }, 'kimi-k3 does not allow frequency_penalty to be changed from 0; leave it out'],
  ])('refuses a changed fixed parameter %j', (fields, message) => {
    expect(refusal('kimi-k3', fields).message).toBe(message);
  });

  it('accepts the fixed values and drops them; temperature is 0.6 once thinking is off', () => {
    const same = check('kimi-k3', { temperature: 1, top_p: 0.95, n: 1, presence_penalty: 0, frequency_penalty: 0 }).request;
    for (const field of ['temperature', 'top_p', 'presence_penalty', 'frequency_penalty']) expect(same).not.toHaveProperty(field);
    expect(check('kimi-k2.6', { thinking: { type: 'disabled' }, temperature: 0.6 }).request).not.toHaveProperty('temperature');
    expect(refusal('kimi-k2.6', { thinking: { type: 'disabled' }, temperature: 1 }).message).toMatch(/changed from 0\.6/);
  });

  it("leaves the seed's models as they were: any temperature, n and penalties pass", () => {
    const request = check('kimi-k2-0905-preview', { temperature: 0.3, n: 3, presence_penalty: 1 }).request;
    expect(request).toMatchObject({ temperature: 0.3, n: 3, presence_penalty: 1 });
  });
});

describe('images and video', () => {
  it("refuses media on a text-only model as the seed did, with the model's name", () => {
    const error = refusal('kimi-k2.5', {}, image(PNG));
    expect(error.code).toBe('api_not_implemented');
    expect(error.status).toBe(400);
    expect(error.message).toBe('messages[0].content[1]: kimi-k2.5 does not take image input');
  });

  it('holds each image and video at its worst case', () => {
    const video = { type: 'video_url', video_url: { url: `data:video/mp4;base64,${'A'.repeat(40)}` } };
    expect(check('kimi-k3', {}, [...image(PNG), video]).mediaTokens).toBe(MEDIA_HOLD_TOKENS.image + MEDIA_HOLD_TOKENS.video);
    expect(check('kimi-k3', {}).mediaTokens).toBe(0);
  });

  it('measures a data URI from its length: exactly at the part limit passes, one byte more does not', () => {
    const head = 'data:image/png;base64,';
    // 4 base64 characters are 3 bytes; a trailing "=" takes one off.
    const exact = `${head}${'A'.repeat((MEDIA_LIMITS.partBytes / 3) * 4 - 4)}AAA=`;
    expect(check('kimi-k3', {}, image(exact.slice(0, -4) + 'AAAA')).mediaTokens).toBe(MEDIA_HOLD_TOKENS.image);
    expect(check('kimi-k3', {}, image(exact)).mediaTokens).toBe(MEDIA_HOLD_TOKENS.image);
    expect(refusal('kimi-k3', {}, image(`${exact.slice(0, -4)}AAAAAAAA`)).message).toBe('messages[0].content[1].image_url.url may be at most 10 MiB');
  });

  it('refuses more than the request limit together, and more parts than allowed', () => {
    const part = `data:image/png;base64,${'A'.repeat((5 * 1024 * 1024 * 4) / 3 + 4)}`;
    expect(refusal('kimi-k3', {}, [...image(part), ...image(part), ...image(part)]).message).toBe(
      'the images and videos of a request may be at most 12 MiB together',
    );
    const many = Array.from({ length: MEDIA_LIMITS.parts + 1 }, () => ({ type: 'image_url', image_url: { url: PNG } }));
    expect(refusal('kimi-k3', {}, many).message).toBe(`a request may carry at most ${MEDIA_LIMITS.parts} image and video parts`);
  });

  it.each([
    ['kimi-k3', 'https://example.com/cat.png', 'messages[0].content[1].image_url.url: kimi-k3 takes images as base64 data URIs only, not URLs'],
    ['kimi-k2.6', 'http://example.com/cat.png', 'messages[0].content[1].image_url.url must be a base64 data URI or an https URL'],
    ['kimi-k3', 'ms://file-abc', 'messages[0].content[1].image_url.url must be a base64 data URI'],
    ['kimi-k2.6', 'https://127.0.0.1/cat.png', 'messages[0].content[1].image_url.url must name a public host'],
    ['kimi-k2.6', 'https://[::1]/cat.png', 'messages[0].content[1].image_url.url must name a public host'],
    ['kimi-k2.6', 'https://metadata.internal/latest', 'messages[0].content[1].image_url.url must name a public host'],
    ['kimi-k2.6', 'data:video/mp4;base64,AAAA', 'messages[0].content[1].image_url.url must be a base64 data URI of type image/png|jpeg|jpg|webp|gif'],
    ['kimi-k2.6', 'data:image/svg+xml;base64,AAAA', 'messages[0].content[1].image_url.url must be a base64 data URI of type image/png|jpeg|jpg|webp|gif'],
  ])('%s refuses the URL %s', (id, url, message) => {
    const error = refusal(id, {}, image(url));
    expect(error.code).toBe('bad_request');
    expect(error.message).toBe(message);
  });

  it('passes a public https URL to a model that takes remote media', () => {
    expect(check('kimi-k2.6', {}, image('https://example.com/cat.png')).mediaTokens).toBe(MEDIA_HOLD_TOKENS.image);
  });

  it.each([
    ['localhost', true],
    ['10.1.2.3', true],
    ['172.20.0.1', true],
    ['192.168.1.1', true],
    ['169.254.169.254', true],
    ['100.64.0.1', true],
    ['0.0.0.0', true],
    ['[fd00::1]', true],
    ['[fe80::1]', true],
    ['[::ffff:7f00:1]', true],
    ['printer.local', true],
    ['example.com', false],
    ['8.8.8.8', false],
    ['172.32.0.1', false],
    ['[2606:4700::1111]', false],
  ])('isPrivateHost(%s) is %s', (host, expected) => {
    expect(isPrivateHost(host)).toBe(expected);
  });
});
