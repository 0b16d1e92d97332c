/**
 * The prompt's token figure for the context check, the completion cap and the hold, at the
 * least cost that keeps each of them sound (docs/billing.md, "Counting the prompt").
 *
 * Counting o200k tokens costs 70 to 370 ns a byte: 7-35 ms for a 100 KB prompt, far more
 * than everything else the gateway does with it. Its UTF-8 byte length is an upper bound of
 * the count (promptTokenBound) at a fraction of the cost. So a long prompt is never counted
 * before the upstream call:
 *
 * - when its bound leaves room in the model's context for its completion cap, the bound
 *   decides the context check and the cap sent upstream exactly as the count would, and the
 *   hold is larger, never smaller;
 * - when its bound does not (a 1 MB prompt has a bound of about 1M against a 256k context),
 *   the hold's prompt part is the model's context, which is the most prompt an upstream
 *   can take and so bill, and the upstream decides whether the prompt fits (it refuses one
 *   that does not with a 400, passed on to the client).
 *
 * Only when such a larger hold is refused for the balance (used_up) is the prompt counted
 * exactly (`exact()`), and the context check, the cap and the hold taken again on the count.
 *
 * What is billed never comes from the figure: the upstream's usage when it sent one,
 * otherwise `count()`, the exact count, made when first asked for (after the response).
 */
import { MoongateError, checkPromptFits, type ChatRequest, type KimiModel } from '../contract/index.js';
import { countPromptTokens, promptTokenBound } from '../tokens/count-tokens.js';

/**
 * Prompts with a smaller bound are counted exactly: under about 1 KB of text a count costs
 * well under 0.1 ms, and the hold of a short request ("Hello") stays its exact figure.
 */
export const BOUND_FROM_TOKENS = 1024;

/**
 * How `tokens` was found: counted; an upper bound that leaves room for the cap; or an upper
 * bound that does not, no larger than the context (it decides no context check and no cap).
 */
export type PromptFigureKind = 'exact' | 'bound' | 'context';

export class PromptFigure {
  #count: number | undefined;

  private constructor(
    private readonly request: ChatRequest,
    private readonly model: KimiModel,
    /** What the hold uses for the prompt: never less than what an upstream can bill for it. */
    readonly tokens: number,
    readonly kind: PromptFigureKind,
    count?: number,
  ) {
    this.#count = count;
  }

  /** The exact count for a short prompt; for a long one, its bound, or the context where the bound does not fit it. */
  static of(request: ChatRequest, model: KimiModel): PromptFigure {
    const bound = promptTokenBound(request.messages, request.tools);
    if (bound < BOUND_FROM_TOKENS) {
      const count = countPromptTokens(request.messages, request.tools);
      return new PromptFigure(request, model, count, 'exact', count);
    }
    const cap = request.max_tokens ?? model.defaultMaxTokens;
    if (bound + cap <= model.contextTokens) return new PromptFigure(request, model, bound, 'bound');
    return new PromptFigure(request, model, Math.min(bound, model.contextTokens), 'context');
  }

  /** Whether `tokens` is the exact count. */
  get isExact(): boolean {
    return this.kind === 'exact';
  }

  /** The same prompt's figure on its exact count (this one when it is exact already). */
  exact(): PromptFigure {
    if (this.kind === 'exact') return this;
    const count = this.count();
    return new PromptFigure(this.request, this.model, count, 'exact', count);
  }

  /** The exact count, counted on the first call. */
  count(): number {
    this.#count ??= countPromptTokens(this.request.messages, this.request.tools);
    return this.#count;
  }

  /**
   * After an upstream refused (400) the request with `sentCap`: when the figure was not
   * counted ('context') and the cap was the model's default, not the client's max_tokens,
   * the lower cap the context leaves after the exact count, to send the request again with;
   * undefined when there is none (the refusal was about something else). Throws the context
   * error when the prompt does not fit even with one token of completion.
   */
  capAfterRefusal(sentCap: number): number | undefined {
    if (this.kind !== 'context' || this.request.max_tokens !== undefined) return undefined;
    const exact = this.exact();
    exact.checkContext();
    const cap = exact.completionCap();
    return cap < sentCap ? cap : undefined;
  }

  /**
   * Refuses what cannot fit the context: max_tokens larger than it, or a prompt whose figure
   * and max_tokens (at least 1) are. A 'context' figure decides nothing about the prompt:
   * the upstream does.
   */
  checkContext(): void {
    const { request, model } = this;
    if (request.max_tokens !== undefined && request.max_tokens > model.contextTokens) {
      throw new MoongateError('bad_request', `max_tokens must be <= ${model.contextTokens} for ${model.id}`);
    }
    if (this.kind !== 'context') checkPromptFits(model, this.tokens, request.max_tokens ?? 1);
  }

  /**
   * The completion cap for the hold and the upstream alike: max_tokens when given, else the
   * model's default, lowered to what the context leaves after a prompt figure that decides
   * it (a 'context' figure leaves the default, within the context: never 0).
   */
  completionCap(): number {
    const { request, model } = this;
    if (request.max_tokens !== undefined) return request.max_tokens;
    const left = this.kind === 'context' ? model.contextTokens : model.contextTokens - this.tokens;
    return Math.min(model.defaultMaxTokens, left);
  }
}
