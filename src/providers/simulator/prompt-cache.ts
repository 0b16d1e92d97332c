/**
 * What the simulator reports of Moonshot's context cache, so cache hits and cache writes can
 * be seen (and billed) offline. Only a request that carries `prompt_cache_options` touches
 * the cache, and the rule is stateless, so the same request always reports the same usage:
 * the prefix (every message before the last, and the tool declarations) is written on a
 * conversation's first turn (no assistant message yet) and read from the cache on later
 * turns, as a client continuing within the TTL would find it (docs/simulator.md).
 */
import type { ChatRequest } from '../../contract/index.js';
import { countPromptTokens } from '../../tokens/count-tokens.js';

/** The generation prompt countPromptTokens adds once; a prefix has none. */
const GENERATION_PROMPT = 4;

export interface PromptCacheReport {
  cachedTokens: number;
  cacheWriteTokens: number;
}

export function simulatedPromptCache(request: ChatRequest, promptTokens: number): PromptCacheReport {
  if (request.prompt_cache_options === undefined || request.messages.length < 2) return { cachedTokens: 0, cacheWriteTokens: 0 };
  const prefix = request.messages.slice(0, -1);
  const prefixTokens = Math.min(Math.max(countPromptTokens(prefix, request.tools) - GENERATION_PROMPT, 0), promptTokens);
  const laterTurn = prefix.some((m) => m.role === 'assistant');
  return laterTurn ? { cachedTokens: prefixTokens, cacheWriteTokens: 0 } : { cachedTokens: 0, cacheWriteTokens: prefixTokens };
}
