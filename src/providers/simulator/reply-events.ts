/**
 * Turns one choice's planned reply into the ChatEvents that carry it, as a real upstream
 * would stream it: stop strings cut the content, max_tokens cuts the token stream, and the
 * text goes out in chunks of 1 to 3 o200k tokens that never split a character.
 */
import type { ChatEvent, FinishReason } from '../../contract/index.js';
import type { ReplyPlan } from './reply-plan.js';
import type { SeededRandom } from './seeded-random.js';
import { streamTokenUnits, type TokenUnit } from './token-units.js';

export interface ReplyLimits {
  /** Completion tokens this choice may emit: reasoning, content and tool-call arguments together. */
  maxTokens: number | undefined;
  stop: readonly string[] | undefined;
}

export interface ScheduledEvent {
  event: ChatEvent;
  choice: number;
  /** Position within its choice's events. */
  order: number;
  /**
   * Tokens this choice emitted before this event; paces the stream. A chunk goes out when
   * its first token is due, so the first chunk arrives exactly at the time to first token.
   */
  tokensBefore: number;
}

export interface ReplyEvents {
  events: ScheduledEvent[];
  /** Exactly the tokens the events carry. */
  tokens: number;
  finish: FinishReason;
}

/**
 * The content up to the first occurrence of any stop string. Stop strings apply to the
 * content only: the reasoning is a separate channel, and cutting it would leave a
 * thinking model with no answer at all for a stop string as common as a word.
 */
export function cutAtStop(text: string, stop: readonly string[] | undefined): string {
  let at = -1;
  for (const s of stop ?? []) {
    if (s === '') continue;
    const i = text.indexOf(s);
    if (i >= 0 && (at < 0 || i < at)) at = i;
  }
  return at < 0 ? text : text.slice(0, at);
}

export function replyEvents(index: number, plan: ReplyPlan, limits: ReplyLimits, random: SeededRandom): ReplyEvents {
  const events: ScheduledEvent[] = [];
  let budget = limits.maxTokens ?? Infinity;
  let tokens = 0;
  let truncated = false;

  /** The units that fit the remaining budget; a character spanning tokens goes whole or not at all. */
  const fit = (text: string): TokenUnit[] => {
    const taken: TokenUnit[] = [];
    // Lazily: a text far over the budget (a client's huge enum value) is encoded only as far as it is used.
    for (const unit of streamTokenUnits(text)) {
      if (unit.tokens > budget) {
        truncated = true;
        break;
      }
      budget -= unit.tokens;
      taken.push(unit);
    }
    return taken;
  };

  const emit = (units: TokenUnit[], make: (text: string) => ChatEvent): void => {
    for (let i = 0; i < units.length; ) {
      const target = random.int(1, 3);
      let text = '';
      let chunkTokens = 0;
      while (i < units.length && chunkTokens < target) {
        const unit = units[i++] as TokenUnit;
        text += unit.text;
        chunkTokens += unit.tokens;
      }
      events.push({ event: make(text), choice: index, order: events.length, tokensBefore: tokens });
      tokens += chunkTokens;
    }
  };

  if (plan.reasoning !== '') emit(fit(plan.reasoning), (reasoning) => ({ type: 'delta', index, reasoning }));
  if (!truncated && plan.content !== '') {
    const content = cutAtStop(plan.content, limits.stop);
    emit(fit(content), (text) => ({ type: 'delta', index, content: text }));
  }
  const call = plan.toolCall;
  if (!truncated && call !== undefined) {
    const args = fit(call.arguments);
    if (args.length > 0) {
      // OpenAI's shape: the first delta names the call, the arguments follow in fragments.
      events.push({
        event: { type: 'delta', index, toolCalls: [{ index: 0, id: call.id, name: call.name, arguments: '' }] },
        choice: index,
        order: events.length,
        tokensBefore: tokens,
      });
      emit(args, (fragment) => ({ type: 'delta', index, toolCalls: [{ index: 0, arguments: fragment }] }));
    }
  }

  const finish: FinishReason = truncated ? 'length' : call !== undefined ? 'tool_calls' : 'stop';
  // The finish goes out with the last chunk.
  const last = events[events.length - 1];
  events.push({ event: { type: 'finish', index, reason: finish }, choice: index, order: events.length, tokensBefore: last?.tokensBefore ?? 0 });
  return { events, tokens, finish };
}
