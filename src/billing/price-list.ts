/**
 * Prices and the one cost formula. A price is micro-units per 1M tokens; a request's cost
 * is rounded up, once, to the micro-unit (docs/billing.md, "Rounding").
 */
import { KIMI_MODELS } from '../contract/models.js';

export interface Price {
  model: string;
  /** Micro-units per 1M input tokens served from the cache. */
  cachedInput: number;
  /** Micro-units per 1M input tokens on a cache miss. */
  input: number;
  /** Micro-units per 1M output (completion, reasoning included) tokens. */
  output: number;
  /**
   * Micro-units per 1M input tokens written to the upstream's context cache (Moonshot bills
   * them as an item of their own). One price whatever the cache's TTL: docs/billing.md.
   */
  cacheWrite: number;
}

/**
 * SPEC.md's reference table (Moonshot's list, USD per 1M tokens), in micro-units. The seed's
 * models predate billed cache writes: their cache-write price is their input price, which
 * bills a cache write exactly as before (as an uncached prompt token).
 */
export const SEED_PRICES: readonly Price[] = Object.freeze([
  { model: 'kimi-k2.5', cachedInput: 100_000, input: 600_000, output: 3_000_000, cacheWrite: 600_000 },
  { model: 'kimi-k2-thinking', cachedInput: 150_000, input: 600_000, output: 2_500_000, cacheWrite: 600_000 },
  { model: 'kimi-k2-thinking-turbo', cachedInput: 150_000, input: 1_150_000, output: 8_000_000, cacheWrite: 1_150_000 },
  { model: 'kimi-k2-0905-preview', cachedInput: 150_000, input: 600_000, output: 2_500_000, cacheWrite: 600_000 },
  { model: 'kimi-k2-turbo-preview', cachedInput: 150_000, input: 1_150_000, output: 8_000_000, cacheWrite: 1_150_000 },
  { model: 'kimi-k2-0711-preview', cachedInput: 150_000, input: 600_000, output: 2_500_000, cacheWrite: 600_000 },
  { model: 'kimi-k2-instruct-0905', cachedInput: 600_000, input: 600_000, output: 2_500_000, cacheWrite: 600_000 },
]);

/**
 * Moonshot's list prices for its current models (USD per 1M tokens, read 2026-12-05; sources
 * in docs/models.md), seeded beside their catalogue rows, which ship 'off'.
 */
export const CURRENT_MODEL_PRICES: readonly Price[] = Object.freeze([
  { model: 'kimi-k2.6', cachedInput: 160_000, input: 950_000, output: 4_000_000, cacheWrite: 950_000 },
  { model: 'kimi-k2.7-code', cachedInput: 190_000, input: 950_000, output: 4_000_000, cacheWrite: 950_000 },
  { model: 'kimi-k2.7-code-highspeed', cachedInput: 380_000, input: 1_900_000, output: 8_000_000, cacheWrite: 1_900_000 },
  { model: 'kimi-k3', cachedInput: 300_000, input: 3_000_000, output: 15_000_000, cacheWrite: 3_000_000 },
]);

const TOKENS_PER_PRICE_UNIT = 1_000_000;

export interface TokenCounts {
  promptTokens: number;
  /** The part of promptTokens served from the cache. */
  cachedTokens: number;
  /** The part of promptTokens written to the cache (none when absent). */
  cacheWriteTokens?: number;
  completionTokens: number;
}

/**
 * ceil((cached × cachedInput + written × cacheWrite + (prompt − cached − written) × input
 *       + completion × output) / 1M).
 * Cached and written tokens are parts of the prompt, so each is clamped to what is left of
 * it: a prompt token is billed once, at one price. Every product stays far below 2^53
 * (262,144 tokens × 128 choices × 10^7), so plain integer arithmetic on numbers is exact.
 */
export function costOf(price: Price, tokens: TokenCounts): number {
  const prompt = Math.max(tokens.promptTokens, 0);
  const cached = Math.min(Math.max(tokens.cachedTokens, 0), prompt);
  const written = Math.min(Math.max(tokens.cacheWriteTokens ?? 0, 0), prompt - cached);
  const scaled =
    cached * price.cachedInput +
    written * price.cacheWrite +
    (prompt - cached - written) * price.input +
    tokens.completionTokens * price.output;
  return Math.ceil(scaled / TOKENS_PER_PRICE_UNIT);
}

/**
 * The most a request can cost: every prompt token at the dearer of the input and cache-write
 * prices (Moonshot writes a cache even when the request does not ask, with its default TTL,
 * so any prompt token may turn out to be a cache write), and each of its n choices running
 * to its completion cap (the gateway's, CappedChatRequest's max_tokens: the one rule).
 */
export function worstCaseCost(price: Price, promptTokens: number, maxTokens: number, n: number): number {
  const dearerInput = { ...price, input: Math.max(price.input, price.cacheWrite) };
  return costOf(dearerInput, { promptTokens, cachedTokens: 0, cacheWriteTokens: 0, completionTokens: n * maxTokens });
}

/** How many "Hello" requests the default free quota is sized for. */
export const FREE_QUOTA_HELLO_REQUESTS = 500;
/** SPEC.md: "Hello" alone is 9 prompt tokens. */
export const HELLO_PROMPT_TOKENS = 9;

/** The default free quota: 500 worst-case "Hello" requests on kimi-k2.5 at the seed prices. */
export function defaultFreeQuota(): number {
  const model = KIMI_MODELS.find((m) => m.id === 'kimi-k2.5');
  const price = SEED_PRICES.find((p) => p.model === 'kimi-k2.5');
  if (model === undefined || price === undefined) throw new Error('kimi-k2.5 is missing from the model or price table');
  return FREE_QUOTA_HELLO_REQUESTS * worstCaseCost(price, HELLO_PROMPT_TOKENS, model.defaultMaxTokens, 1);
}
