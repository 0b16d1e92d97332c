/**
 * GET /openapi.json: a valid OpenAPI 3.1 document (checked with @seriousme/openapi-schema-validator
 * against the official 3.1 schema) whose schemas accept the seed's own examples, requests and
 * answers (stream and non-stream, and the error envelope), and refuse what the server refuses.
 */
import { readFileSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES, parseChatRequest } from '../../src/contract/index.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');

/** The seed's request bodies: its Python snippets' `payload = {...}` (True → true). */
function seedRequests(): unknown[] {
  const seed = fixture('seed.txt');
  return [...seed.matchAll(/^payload = (\{[\s\S]*?^\})$/gm)].map((m) => JSON.parse(m[1]!.replace(/\bTrue\b/g, 'true')) as unknown);
}

interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>>;
  components: { schemas: Record<string, unknown> };
}

describe('GET /openapi.json', () => {
  let server: TestServer;
  let document: OpenApiDocument;
  let ajv: Ajv2020;

  beforeAll(async () => {
    server = await startTestServer();
    const response = await fetch(`${server.url}/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    document = (await response.json()) as OpenApiDocument;
    ajv = new Ajv2020({ strict: false, allErrors: true });
    ajv.addSchema({ components: document.components }, 'doc');
  });
  afterAll(() => server.close());

  const validate = (name: string, value: unknown) => {
    const check = ajv.getSchema(`doc#/components/schemas/${name}`);
    if (check === undefined) throw new Error(`no schema ${name}`);
    const ok = check(value);
    return { ok, errors: check.errors };
  };

  it('is a valid OpenAPI 3.1 document', async () => {
    expect(document.openapi).toBe('3.1.0');
    const result = await new Validator().validate(document as unknown as Parameters<Validator["validate"]>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('describes the chat API at /kimi and /v1 with JSON and event-stream answers, and the models', () => {
    for (const path of ['/kimi/chat/completions', '/v1/chat/completions']) {
      const ok = document.paths[path]!.post!.responses['200']!.content!;
      expect(Object.keys(ok).sort()).toEqual(['application/json', 'text/event-stream']);
    }
    for (const path of ['/v1/models', '/kimi/models']) expect(document.paths[path]!.get).toBeDefined();
    for (const path of ['/v1/tokenizers/estimate-token-count', '/kimi/tokenizers/estimate-token-count']) expect(document.paths[path]!.post).toBeDefined();
    for (const path of ['/v1/users/me/balance', '/kimi/users/me/balance']) expect(document.paths[path]!.get).toBeDefined();
  });

  it('names every error code of the catalogue in its error answers', () => {
    const text = JSON.stringify(document.paths['/kimi/chat/completions']!.post!.responses);
    for (const code of ERROR_CODES) expect(text, code).toContain(`\`${code}\``);
    const envelope = document.components.schemas.ErrorEnvelope as { properties: { error: { properties: { code: { enum: string[] } } } } };
    expect(envelope.properties.error.properties.code.enum.sort()).toEqual([...ERROR_CODES].sort());
  });

  it("accepts the seed's example requests, which the server accepts too", () => {
    const requests = seedRequests();
    expect(requests).toHaveLength(2);
    for (const request of requests) {
      expect(validate('ChatRequest', request)).toMatchObject({ ok: true });
      expect(() => parseChatRequest(request)).not.toThrow();
    }
  });

  it('refuses the requests the server refuses', () => {
    const refused = [
      { messages: [{ role: 'user', content: 'Hi' }] },
      { model: 'kimi-k2.5', messages: [] },
      { model: 'kimi-k2.5', messages: [{ role: 'robot', content: 'Hi' }] },
      { model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hi' }], temperature: 3 },
      { model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hi' }], n: 1.5 },
    ];
    for (const request of refused) {
      expect(validate('ChatRequest', request).ok, JSON.stringify(request)).toBe(false);
      expect(() => parseChatRequest(request)).toThrow();
    }
  });

  it("accepts the seed's answers: both completions, every chunk of its stream, its error envelope", () => {
    for (const name of ['seed-response-hello.json', 'seed-response-multi-turn.json']) {
      expect(validate('ChatCompletion', JSON.parse(fixture(name))), name).toMatchObject({ ok: true });
    }
    const events = fixture('seed-stream.sse')
      .split('\n')
      .filter((line) => line.startsWith('data: ') && line !== 'data: [DONE]');
    expect(events.length).toBeGreaterThan(3);
    for (const event of events) expect(validate('ChatCompletionChunk', JSON.parse(event.slice(6))), event).toMatchObject({ ok: true });
    expect(validate('ErrorEnvelope', JSON.parse(fixture('seed-error.json')))).toMatchObject({ ok: true });
    // And refuses what the wire never carries.
    expect(validate('ErrorEnvelope', { success: false, error: { code: 'no_such_code', message: 'x' }, trace_id: 't' }).ok).toBe(false);
    expect(validate('ChatCompletion', { ...JSON.parse(fixture('seed-response-hello.json')), object: 'chat.completion.chunk' }).ok).toBe(false);
  });

  it("accepts this server's own answers: a completion, a stream's chunks, the models, an error", async () => {
    const plain = await server.chat({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }] });
    expect(validate('ChatCompletion', await plain.json())).toMatchObject({ ok: true });
    const stream = await server.chat({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }], stream: true });
    const chunks = (await stream.text()).split('\n').filter((line) => line.startsWith('data: {'));
    expect(chunks.length).toBeGreaterThan(1);
    for (const chunk of chunks) expect(validate('ChatCompletionChunk', JSON.parse(chunk.slice(6)))).toMatchObject({ ok: true });
    const models = await fetch(`${server.url}/v1/models`);
    expect(validate('ModelList', await models.json())).toMatchObject({ ok: true });
    const refused = await server.chat({ model: 'kimi-k9', messages: [{ role: 'user', content: 'Hello' }] });
    expect(validate('ErrorEnvelope', await refused.json())).toMatchObject({ ok: true });
    const auth = { authorization: `Bearer ${server.token}` };
    const count = await fetch(`${server.url}/v1/tokenizers/estimate-token-count`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }] }),
    });
    expect(validate('TokenCount', await count.json())).toMatchObject({ ok: true });
    const balance = await fetch(`${server.url}/v1/users/me/balance`, { headers: auth });
    expect(validate('Balance', await balance.json())).toMatchObject({ ok: true });
    // And refuses what the wire never carries.
    expect(validate('TokenCount', { data: { total_tokens: -1 } }).ok).toBe(false);
    expect(validate('Balance', { code: 0, data: { available_balance: 1 }, scode: '0x0', status: true }).ok).toBe(false);
  });
});
