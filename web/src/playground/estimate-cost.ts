/** What a call costs by the price list: docs/billing.md's formula, in integer micro-units. */
import type { ModelPrice } from '../console-types';

export function estimateCost(price: ModelPrice, tokens: { prompt: number; cached: number; completion: number }): number {
  const cached = Math.min(tokens.cached, tokens.prompt);
  // Prices are per 1M tokens; the products stay far below 2^53, so this is exact.
  const perMillion = cached * price.cachedInput + (tokens.prompt - cached) * price.input + tokens.completion * price.output;
  return Math.ceil(perMillion / 1_000_000);
}
