/**
 * Moonshot AI's Kimi API (https://api.moonshot.ai/v1, or https://api.moonshot.cn/v1 in
 * mainland China): OpenAI-compatible, with the quirks listed at the end of SPEC.md. Each
 * override below smooths one of them; the plumbing is the OpenAI-compatible base's.
 */
import { MoongateError } from '../../contract/index.js';
import type { ChatEvent, TemperatureRule, UsageEvent } from '../../contract/index.js';
import type { ProviderCall } from '../provider.js';
import { ChunkReader, isJsonObject, tokenCount } from '../openai-compatible/chunk-reader.js';
import {
  OpenAICompatibleProvider,
  type OpenAICompatibleProviderOptions,
} from '../openai-compatible/openai-compatible-provider.js';
import { parseUpstreamError, type UpstreamHeaders } from '../openai-compatible/upstream-errors.js';

export const MOONSHOT_BASE_URL = 'https://api.moonshot.ai/v1';

export interface MoonshotProviderOptions extends Omit<OpenAICompatibleProviderOptions, 'baseUrl' | 'apiKey'> {
  /** The operator's Moonshot key (MOONSHOT_API_KEY). */
  apiKey: string;
  /** MOONSHOT_BASE_URL; defaults to the international endpoint. */
  baseUrl?: string;
}

/**
 * Moonshot's parameter table ("Model Parameter Reference", platform.moonshot.ai/docs/api/models-overview):
 * kimi-k2.5 fixes temperature at 1, top_p at 0.95 and both penalties at 0 ("cannot be modified",
 * another value is a 400); the K2 models take a temperature in [0, 1].
 */
const FIXED_SAMPLING: Readonly<Record<string, number>> = {
  temperature: 1,
  top_p: 0.95,
  presence_penalty: 0,
  frequency_penalty: 0,
};

function applySamplingRule(body: Record<string, unknown>, rule: TemperatureRule): void {
  switch (rule) {
    case 'fixed-one':
      // A value the model would reject is dropped, so Moonshot uses its fixed one (SPEC.md:
      // "clamp or drop per model"); the value it would use anyway may stay.
      for (const [field, fixed] of Object.entries(FIXED_SAMPLING)) {
        if (field in body && body[field] !== fixed) delete body[field];
      }
      break;
    case 'clamp-zero-one':
      if (typeof body.temperature === 'number') body.temperature = Math.min(1, Math.max(0, body.temperature));
      break;
  }
}

/** Moonshot's stream has two usage quirks the base reader does not know. */
export class MoonshotChunkReader extends ChunkReader {
  /**
   * Without `stream_options.include_usage`, Moonshot puts usage inside the last choice,
   * `choices[0].usage` ("Use the Streaming Feature of the Kimi API", Token Calculation,
   * platform.moonshot.ai/docs/guide/utilize-the-streaming-output-feature-of-kimi-api).
   * We always ask for the separate chunk, but read both: whichever comes last wins, and
   * the usage event is still yielded once.
   */
  protected override readChoice(choice: unknown, position: number, events: ChatEvent[]): void {
    super.readChoice(choice, position, events);
    if (isJsonObject(choice)) this.noteUsage(choice.usage);
  }

  /**
   * Moonshot reports context-cache hits as a top-level `usage.cached_tokens` rather than
   * OpenAI's `prompt_tokens_details.cached_tokens` (Chat Completions API reference, usage).
   * Cache writes are read the same way: `prompt_tokens_details.cache_write_tokens` first
   * (the base reader), else a top-level `cache_write_tokens` (docs/billing.md, "Cache writes").
   */
  protected override readUsage(value: unknown): UsageEvent | undefined {
    const usage = super.readUsage(value);
    if (usage === undefined || !isJsonObject(value)) return usage;
    if (usage.cachedTokens === undefined) {
      const cached = tokenCount(value.cached_tokens);
      if (cached !== undefined) usage.cachedTokens = cached;
    }
    if (usage.cacheWriteTokens === undefined) {
      const written = tokenCount(value.cache_write_tokens);
      if (written !== undefined) usage.cacheWriteTokens = written;
    }
    return usage;
  }
}

export class MoonshotProvider extends OpenAICompatibleProvider {
  override readonly kind: string = 'moonshot';

  constructor(options: MoonshotProviderOptions) {
    super({ ...options, baseUrl: options.baseUrl ?? MOONSHOT_BASE_URL });
  }

  /**
   * The base body already carries what Moonshot needs: `stream_options.include_usage` on a stream, the
   * completion cap under the name the model honours (`max_tokens` for the seed's models,
   * `max_completion_tokens` for the current ones), `thinking` and `reasoning_effort`.
   * Moonshot's own: the per-model sampling rules, and `prompt_cache_options`, which every
   * Moonshot channel passes as the client sent it (its cache writes are billed from usage).
   */
  protected override buildBody(call: ProviderCall): Record<string, unknown> {
    const body = super.buildBody(call);
    applySamplingRule(body, call.model.temperature);
    const cache = call.request.prompt_cache_options;
    if (cache !== undefined) body.prompt_cache_options = cache;
    return body;
  }

  protected override createChunkReader(_call: ProviderCall): ChunkReader {
    return new MoonshotChunkReader();
  }

  /**
   * Moonshot's errors are `{"error": {"type", "message"}}` with 400, 401, 403, 404, 429 or 500
   * (platform.moonshot.ai/docs/api/errors). The status mapping of the base fits all but the
   * exhausted account: `exceeded_current_quota_error` (403, and 429 for a token quota) means
   * the operator's Moonshot account is out of money or quota; that is the operator's
   * problem, not the client's used_up, and retrying soon will not help, so not
   * too_many_requests either. `permission_denied_error` (403) is an API or model the
   * operator's account may not use.
   */
  protected override mapError(status: number, body: string, headers: UpstreamHeaders): MoongateError {
    const { type } = parseUpstreamError(body);
    if (type === 'exceeded_current_quota_error') {
      return new MoongateError('api_error', "the upstream account's quota or balance is exhausted");
    }
    if (type === 'permission_denied_error') {
      return new MoongateError('api_error', "the upstream does not allow this request for the operator's account");
    }
    return super.mapError(status, body, headers);
  }
}
