/**
 * The answers of the public API as zod schemas: the chat completion, the stream's chunk, the
 * model list and the error envelope. They exist for the OpenAPI document (GET /openapi.json,
 * src/http/openapi-document.ts); the server builds its answers with the interfaces of
 * response.ts and errors.ts, and the type checks at the end of this file fail the build if
 * a schema and its interface ever disagree, so the document cannot drift from the wire.
 */
import { z } from 'zod';
import { ERROR_CODES, type ErrorCode, type ErrorEnvelope } from './errors.js';
import { REASONING_EFFORTS } from './models.js';
import type { ChatCompletion, ChatCompletionChunk, Usage } from './response.js';

const finishReason = z.enum(['stop', 'length', 'tool_calls', 'content_filter']);

export const usageSchema = z
  .object({
    prompt_tokens: z.int().min(0),
    completion_tokens: z.int().min(0),
    total_tokens: z.int().min(0),
    prompt_tokens_details: z.object({
      cached_tokens: z.int().min(0).optional(),
      cache_write_tokens: z.int().min(0).optional(),
      cached_tokens_details: z.record(z.string(), z.never()),
    }),
    completion_tokens_details: z.record(z.string(), z.never()),
  })
  .meta({ description: 'Token counts; the same figures the usage log bills.' });

const toolCall = z.object({
  id: z.string(),
  type: z.literal('function'),
  function: z.object({ name: z.string(), arguments: z.string() }),
});

export const chatCompletionSchema = z
  .object({
    id: z.string(),
    object: z.literal('chat.completion'),
    created: z.int(),
    model: z.string(),
    choices: z.array(
      z.object({
        index: z.int().min(0),
        message: z.object({
          role: z.literal('assistant'),
          content: z.string().nullable(),
          refusal: z.string().nullable(),
          reasoning_content: z.string().optional().meta({ description: 'Thinking models only; the same text as reasoning.' }),
          reasoning: z.string().optional(),
          tool_calls: z.array(toolCall),
        }),
        logprobs: z.null(),
        finish_reason: finishReason,
      }),
    ),
    usage: usageSchema,
  })
  .meta({ description: 'The answer when stream is false.' });

export const chatCompletionChunkSchema = z
  .object({
    id: z.string(),
    object: z.literal('chat.completion.chunk'),
    created: z.int(),
    model: z.string(),
    system_fingerprint: z.null(),
    choices: z.array(
      z.object({
        index: z.int().min(0),
        delta: z.object({
          content: z.string().optional(),
          role: z.literal('assistant').optional(),
          reasoning_content: z.string().optional(),
          reasoning: z.string().optional(),
          refusal: z.string().optional(),
          tool_calls: z
            .array(
              z.object({
                index: z.int().min(0),
                id: z.string().optional(),
                type: z.literal('function').optional(),
                function: z.object({ name: z.string().optional(), arguments: z.string().optional() }),
              }),
            )
            .optional(),
        }),
        logprobs: z.null(),
        finish_reason: finishReason.nullable(),
      }),
    ),
    usage: usageSchema.nullable(),
  })
  .meta({

    description: 'One `data:` event of the stream when stream is true; the stream ends with `data: [DONE]`.',
  });

export const errorEnvelopeSchema = z
  .object({
    success: z.literal(false),
    error: z.object({
      code: z.enum(ERROR_CODES as [ErrorCode, ...ErrorCode[]]),
      message: z.string(),
    }),
    trace_id: z.string().meta({ description: 'The same as the x-trace-id header.' }),
  })
  .meta({ description: 'Every error the API answers; branch on error.code.' });

export const modelListSchema = z
  .object({
    object: z.literal('list'),
    data: z.array(
      z.object({
        id: z.string().meta({ description: "A catalogue model id, such as kimi-k2.5 (docs/models.md)." }),
        object: z.literal('model'),
        created: z.int(),
        owned_by: z.string(),
        context_length: z.int().min(1),
        thinking: z.boolean(),
        supports_image_in: z.boolean(),
        supports_video_in: z.boolean(),
        supports_reasoning: z.boolean(),
        think_efforts: z.array(z.enum(REASONING_EFFORTS)).meta({ description: 'The reasoning_effort values the model takes; empty: none.' }),
      }),
    ),
  })
  .meta({ description: "The catalogue's active models." });

/** Moonshot's shape of POST /v1/tokenizers/estimate-token-count (moonshot-utility-routes.ts). */
export const tokenCountSchema = z
  .object({ data: z.object({ total_tokens: z.int().min(0) }) })
  .meta({ description: 'The prompt tokens a chat request with this body would be held for, counted by the gateway.' });

/** Moonshot's shape of GET /v1/users/me/balance, in the operator's currency (docs/billing.md). */
export const balanceSchema = z
  .object({
    code: z.literal(0),
    data: z.object({
      available_balance: z.number().meta({ description: 'voucher_balance plus cash_balance (a negative balance counted as 0).' }),
      voucher_balance: z.number().meta({ description: "The credential's application quota, running holds taken off." }),
      cash_balance: z.number().meta({ description: "The person's balance this credential may draw on (0 when it may not)." }),
    }),
    scode: z.string(),
    status: z.literal(true),
  })
  .meta({ description: "The caller's own quota and balance." });

// Drift checks: each schema's type and its interface must be assignable both ways.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const drift: [
  Same<z.infer<typeof usageSchema>, Usage>,
  Same<z.infer<typeof chatCompletionSchema>, ChatCompletion>,
  Same<z.infer<typeof chatCompletionChunkSchema>, ChatCompletionChunk>,
  Same<z.infer<typeof errorEnvelopeSchema>, ErrorEnvelope>,
] = [true, true, true, true];
void drift;
