/**
 * The prompt's token figure for the context check, the completion cap and the hold, at the
 * least cost that decides each of them the same way (docs/billing.md, "Counting the prompt").
 *
 * Counting o200k tokens costs 70 to 370 ns a byte: 7-35 ms for a 100 KB prompt, far more
 * than everything else the gateway does with it. Its UTF-8 byte length is an upper bound of
 * the count (promptTokenBound) at a fraction of the cost. A long prompt whose bound still
 * leaves room in the model's context for its completion cap is held on the bound: the
 * context check passes and the cap sent upstream are the same as with the exact count, and
 * the hold is larger, never smaller. Only when that larger hold is refused for the balance
 * (used_up) is the prompt counted exactly and the hold asked for again.
 *
 * What is billed never comes from the bound: the upstream's usage when it sent one,
 * otherwise `count()`, the exact count, made when first asked for.
 */
import type { ChatRequest, KimiModel } from '../contract/index.js';
import { countPromptTokens, promptTokenBound } from '../tokens/count-tokens.js';

/**
 * Prompts with a smaller bound are counted exactly: under about 1 KB of text a count costs
 * well under 0.1 ms, and the hold of a short request ("Hello") stays its exact figure.
 */
export const BOUND_FROM_TOKENS = 1024;

export class PromptFigure {
  #count: number | undefined;
  /** What the checks and the hold use: the exact count, or the upper bound where it decides the same. */
  readonly tokens: number;
  /** Whether `tokens` is the exact count. */
  readonly isExact: boolean;

  private constructor(
    private readonly request: ChatRequest,
    bound: number | undefined,
  ) {
    if (bound === undefined) {
      this.#count = countPromptTokens(request.messages, request.tools);
      this.tokens = this.#count;
      this.isExact = true;
    } else {
      this.tokens = bound;
      this.isExact = false;
    }
  }

  /**
   * The bound when it is long enough to be worth it and leaves room for the completion cap
   * (the request's max_tokens, else the model's default) within the context; else the count.
   */
  static of(request: ChatRequest, model: KimiModel): PromptFigure {
    const bound = promptTokenBound(request.messages, request.tools);
    const cap = request.max_tokens ?? model.defaultMaxTokens;
    const decidesTheSame = bound >= BOUND_FROM_TOKENS && bound + cap <= model.contextTokens && cap <= model.contextTokens;
    return new PromptFigure(request, decidesTheSame ? bound : undefined);
  }

  /** The exact count, counted on the first call. */
  count(): number {
    this.#count ??= countPromptTokens(this.request.messages, this.request.tools);
    return this.#count;
  }
}
