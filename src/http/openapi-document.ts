/**
 * GET /openapi.json: an OpenAPI 3.1 document of the public API (/kimi/chat/completions,
 * /v1/chat/completions, /v1/models, /kimi/models, and Moonshot's estimate-token-count and
 * users/me/balance under both prefixes). Its schemas are generated with
 * z.toJSONSchema from the zod schemas the server validates requests with (contract/request.ts)
 * and the answer schemas held against the answer types (contract/response-schemas.ts), so the
 * document cannot drift from what the server does. Built once; it holds no per-request data.
 */
import { z } from 'zod';
import { ERROR_CATALOGUE, ERROR_CODES } from '../contract/errors.js';
import { chatRequestSchema } from '../contract/request.js';
import {
  balanceSchema,
  chatCompletionChunkSchema,
  chatCompletionSchema,
  errorEnvelopeSchema,
  modelListSchema,
  tokenCountSchema,
  usageSchema,
} from '../contract/response-schemas.js';
import { CHAT_COMPLETIONS_PATHS } from './routes/chat-completions-route.js';
import { MODELS_PATHS } from './routes/models-route.js';
import { BALANCE_PATHS, ESTIMATE_TOKEN_COUNT_PATHS } from './routes/moonshot-utility-routes.js';

type JsonSchema = Record<string, unknown>;

/**
 * Schemas as components: 2020-12 JSON Schema (OpenAPI 3.1's own dialect), each named schema
 * used inside another as a $ref to its component. Requests are described as the server
 * accepts them (io: input), answers as it writes them (io: output).
 */
function components(named: Record<string, z.ZodType>, io: 'input' | 'output'): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(named)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
  }) as { schemas: Record<string, JsonSchema> };
  const out: Record<string, JsonSchema> = {};
  for (const [id, { $schema: _dialect, id: _id, ...rest }] of Object.entries(schemas)) out[id] = rest;
  return out;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** The statuses the catalogue can answer with, each listing its codes. */
function errorResponses(): Record<string, unknown> {
  const byStatus = new Map<number, string[]>();
  for (const code of ERROR_CODES) {
    const { status } = ERROR_CATALOGUE[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<string, unknown> = {};
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[String(status)] = {
      description: `The error envelope; error.code is one of ${codes.map((c) => `\`${c}\``).join(', ')}.`,
      headers: {
        'x-trace-id': { $ref: '#/components/headers/TraceId' },
        ...(status === 429 ? { 'retry-after': { description: 'Seconds to wait before trying again.', schema: { type: 'integer' } } } : {}),
      },
      content: { 'application/json': { schema: ref('ErrorEnvelope') } },
    };
  }
  return responses;
}

export function buildOpenApiDocument(version: string): Record<string, unknown> {
  const chat = {
    summary: 'Create a chat completion',
    description:
      'OpenAI-compatible Chat Completions for the Kimi models. With `stream: true` the answer is a text/event-stream of ' +
      '`data: <ChatCompletionChunk>` events ending with `data: [DONE]`; otherwise one ChatCompletion.',
    tags: ['chat'],
    security: [{ bearer: [] }],
    requestBody: { required: true, content: { 'application/json': { schema: ref('ChatRequest') } } },
    responses: {
      '200': {
        description: 'The completion: JSON when stream is false, an event stream of chunks when stream is true.',
        headers: { 'x-trace-id': { $ref: '#/components/headers/TraceId' } },
        content: {
          'application/json': { schema: ref('ChatCompletion') },
          'text/event-stream': {
            schema: { type: 'string', description: 'Events `data: <ChatCompletionChunk JSON>`, then `data: [DONE]`.' },
            // OpenAPI 3.2's itemSchema, as an extension 3.1 allows: each event's JSON.
            'x-item-schema': ref('ChatCompletionChunk'),
          },
        },
      },
      ...errorResponses(),
    },
  };
  const models = {
    summary: 'List the models',
    tags: ['models'],
    responses: {
      '200': {
        description: 'The public models.',
        headers: { 'x-trace-id': { $ref: '#/components/headers/TraceId' } },
        content: { 'application/json': { schema: ref('ModelList') } },
      },
    },
  };
  const answer = (description: string, schema: string) => ({
    '200': {
      description,
      headers: { 'x-trace-id': { $ref: '#/components/headers/TraceId' } },
      content: { 'application/json': { schema: ref(schema) } },
    },
    ...errorResponses(),
  });
  const estimate = {
    summary: 'Count the prompt tokens of a chat request (Moonshot-compatible)',
    description: 'The body of a chat request; answered with the count the gateway would hold for. Nothing is held, billed or sent upstream.',
    tags: ['utility'],
    security: [{ bearer: [] }],
    requestBody: { required: true, content: { 'application/json': { schema: ref('ChatRequest') } } },
    responses: answer('The token count.', 'TokenCount'),
  };
  const balance = {
    summary: "The caller's quota and balance (Moonshot-compatible)",
    tags: ['utility'],
    security: [{ bearer: [] }],
    responses: answer('The balance, in the operator\'s currency.', 'Balance'),
  };
  const paths: Record<string, unknown> = {};
  for (const path of CHAT_COMPLETIONS_PATHS) {
    paths[path] = { post: { ...chat, operationId: path.startsWith('/v1/') ? 'createChatCompletionV1' : 'createChatCompletion' } };
  }
  for (const path of MODELS_PATHS) {
    paths[path] = { get: { ...models, operationId: path.startsWith('/v1/') ? 'listModelsV1' : 'listModels' } };
  }
  for (const path of ESTIMATE_TOKEN_COUNT_PATHS) {
    paths[path] = { post: { ...estimate, operationId: path.startsWith('/v1/') ? 'estimateTokenCountV1' : 'estimateTokenCount' } };
  }
  for (const path of BALANCE_PATHS) {
    paths[path] = { get: { ...balance, operationId: path.startsWith('/v1/') ? 'getBalanceV1' : 'getBalance' } };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'moongate: Kimi Chat Completions API',
      version,
      description: 'The public API of this moongate server. Every error is the envelope `{"success":false,"error":{"code","message"},"trace_id"}`.',
    },
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A credential token, `mg-…`.' } },
      headers: {
        TraceId: { description: 'The trace id of this answer (the envelope’s trace_id, the usage log’s row).', schema: { type: 'string' } },
      },
      schemas: {
        ...components({ ChatRequest: chatRequestSchema }, 'input'),
        ...components(
          {
            ChatCompletion: chatCompletionSchema,
            ChatCompletionChunk: chatCompletionChunkSchema,
            Usage: usageSchema,
            ModelList: modelListSchema,
            TokenCount: tokenCountSchema,
            Balance: balanceSchema,
            ErrorEnvelope: errorEnvelopeSchema,
          },
          'output',
        ),
      },
    },
    'x-error-codes': Object.fromEntries(ERROR_CODES.map((code) => [code, ERROR_CATALOGUE[code]])),
  };
}
