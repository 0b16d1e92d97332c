/**
 * The built-in simulator: an offline upstream that behaves like the real one
 * (DESIGN.md, "The simulator"). Thinking models reason before they answer, max_tokens ends
 * a reply with `length`, stop strings stop it, n gives n interleaved choices, JSON mode
 * answers with one JSON object, tools get schema-valid tool calls, and the time to first
 * token and the tokens per second are settings. Text is counted in real o200k tokens, the
 * same counter the gateway bills with, and every reply says it is simulated.
 */
import { checkPromptFits, type ChatEvent } from '../../contract/index.js';
import type { SimulatorSettings } from './simulator-settings.js';
import type { Provider, ProviderCall } from '../provider.js';
import { abortableSleep, abortReason } from './abortable-sleep.js';
import { readConversation } from './conversation-facts.js';
import { replyEvents, type ScheduledEvent } from './reply-events.js';
import { planReply, type ReplyPlan } from './reply-plan.js';
import { simulatedPromptCache } from './prompt-cache.js';
import { SeededRandom } from './seeded-random.js';
import { countPromptTokens } from '../../tokens/count-tokens.js';

/**
 * Paced streams wake at most this often and emit every event that has come due, instead
 * of one timer per token (at 1,000 tokens/s that would be 1,000 timers a second).
 */
const TICK_MS = 10;
/** Re-plans a choice whose text repeats an earlier choice's, so n choices always differ. */
const DISTINCT_ATTEMPTS = 8;
/** Mixed into the seed so chunk sizes draw from a stream of their own and never shift the text. */
const CHUNK_STREAM = 0x43484e4b;

export class SimulatorProvider implements Provider {
  readonly kind = 'simulator';

  constructor(private readonly settings: SimulatorSettings) {}

  chat(call: ProviderCall): AsyncIterable<ChatEvent> {
    return this.stream(call);
  }

  private async *stream(call: ProviderCall): AsyncGenerator<ChatEvent> {
    const { signal } = call;
    if (signal.aborted) throw abortReason(signal);
    const started = performance.now();
    // Its own count, as an upstream reports its own: the gateway's figure may be an upper
    // bound, and a long prompt's is not counted at all (src/gateway/prompt-tokens.ts). Taken
    // once; the gateway's exact count of the same long texts, if it needs one, is a lookup
    // (src/tokens/count-cache.ts).
    const promptTokens = countPromptTokens(call.request.messages, call.request.tools);
    // A prompt that leaves no room for the cap is refused, as Moonshot and vLLM refuse it:
    // before acceptance, so nothing is billed.
    checkPromptFits(call.model, promptTokens, call.request.max_tokens ?? 1);
    // Taken: from here the prompt is billed, as with a real upstream's 2xx (docs/billing.md).
    call.onAccepted?.();
    const { ttftMs, tokensPerSecond } = this.settings;

    const { events, completionTokens } = script(call, tokensPerSecond > 0);

    // Planning counts towards the time to first token, as a real upstream's prefill does.
    const ttftLeft = ttftMs - (performance.now() - started);
    if (ttftLeft > 0) await abortableSleep(ttftLeft, signal);

    if (tokensPerSecond <= 0) {
      // As fast as possible: no timers at all.
      for (const e of events) {
        yield e.event;
        if (signal.aborted) throw abortReason(signal);
      }
    } else {
      const msPerToken = 1000 / tokensPerSecond;
      // The first token arrives at ttft, each further token msPerToken later.
      const dueAt = (e: ScheduledEvent): number => ttftMs + e.tokensBefore * msPerToken;
      for (let i = 0; i < events.length; ) {
        const wait = dueAt(events[i] as ScheduledEvent) - (performance.now() - started);
        if (wait > 0) await abortableSleep(Math.max(wait, TICK_MS), signal);
        const elapsed = performance.now() - started;
        do {
          yield (events[i] as ScheduledEvent).event;
          i++;
          if (signal.aborted) throw abortReason(signal);
        } while (i < events.length && dueAt(events[i] as ScheduledEvent) <= elapsed);
      }
    }
    const cache = simulatedPromptCache(call.request, promptTokens);
    yield {
      type: 'usage',
      promptTokens,
      completionTokens,
      ...(cache.cachedTokens > 0 ? { cachedTokens: cache.cachedTokens } : {}),
      ...(cache.cacheWriteTokens > 0 ? { cacheWriteTokens: cache.cacheWriteTokens } : {}),
    };
  }
}

/** Every choice's events, merged in the order a real upstream would send them, and the tokens they carry. */
function script(call: ProviderCall, paced: boolean): { events: ScheduledEvent[]; completionTokens: number } {
  const { request } = call;
  const facts = readConversation(request, call.model);
  const seed = request.seed ?? Math.floor(Math.random() * 0x1_0000_0000);
  const limits = { maxTokens: request.max_tokens, stop: request.stop };

  const seen = new Set<string>();
  const events: ScheduledEvent[] = [];
  let completionTokens = 0;
  for (let choice = 0; choice < request.n; choice++) {
    let plan: ReplyPlan | undefined;
    for (let attempt = 0; attempt < DISTINCT_ATTEMPTS; attempt++) {
      plan = planReply(facts, new SeededRandom(SeededRandom.mix(seed, choice, attempt)));
      const key = `${plan.reasoning}\u0000${plan.content}\u0000${plan.toolCall?.arguments ?? ''}`;
      if (!seen.has(key)) {
        seen.add(key);
        break;
      }
    }
    const reply = replyEvents(choice, plan as ReplyPlan, limits, new SeededRandom(SeededRandom.mix(seed, choice, CHUNK_STREAM)));
    completionTokens += reply.tokens;
    for (const e of reply.events) events.push(e);
  }

  if (request.n > 1) {
    // Choices generate side by side, as on a real upstream: when paced, by the time each
    // event is due; unpaced, round-robin (one event of each choice in turn).
    events.sort(
      (a, b) =>
        (paced ? a.tokensBefore - b.tokensBefore : 0) ||
        a.order - b.order ||
        a.choice - b.choice,
    );
  }
  return { events, completionTokens };
}
