/**
 * One playground call of POST /kimi/chat/completions, exactly as a client makes it: JSON
 * or Server-Sent Events, decoded with the server's own SSE decoder (src/sse/decoder.ts,
 * platform-neutral), reporting reasoning and answer deltas as they arrive and keeping the
 * raw text exactly as received.
 */
import { SseDecoder } from '../../../src/sse/decoder';

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
  completion_tokens_details?: { reasoning_tokens?: number } | null;
}

export interface ApiErrorBody {
  code: string;
  message: string;
}

export interface CompletionProgress {
  reasoning: string;
  content: string;
  raw: string;
  traceId: string | null;
  /** ms from sending to the first reasoning or answer text. */
  ttftMs: number | null;
}

export interface CompletionOutcome extends CompletionProgress {
  status: number;
  usage: CompletionUsage | null;
  finishReason: string | null;
  error: ApiErrorBody | null;
  aborted: boolean;
  sawDone: boolean;
  durationMs: number;
}

interface Delta {
  content?: string | null;
  reasoning_content?: string | null;
  reasoning?: string | null;
}

interface Choice {
  index?: number;
  delta?: Delta;
  message?: Delta;
  finish_reason?: string | null;
}

interface ChatPayload {
  choices?: Choice[];
  usage?: CompletionUsage | null;
  success?: false;
  error?: ApiErrorBody;
}

export async function runCompletion(options: {
  token: string;
  body: Record<string, unknown>;
  signal: AbortSignal;
  onProgress: (progress: CompletionProgress) => void;
}): Promise<CompletionOutcome> {
  const started = performance.now();
  const state: CompletionOutcome = {
    reasoning: '',
    content: '',
    raw: '',
    traceId: null,
    ttftMs: null,
    status: 0,
    usage: null,
    finishReason: null,
    error: null,
    aborted: false,
    sawDone: false,
    durationMs: 0,
  };
  const report = () => options.onProgress({ reasoning: state.reasoning, content: state.content, raw: state.raw, traceId: state.traceId, ttftMs: state.ttftMs });

  const takeText = (reasoning: string, content: string) => {
    if ((reasoning !== '' || content !== '') && state.ttftMs === null) state.ttftMs = Math.round(performance.now() - started);
    state.reasoning += reasoning;
    state.content += content;
  };

  try {
    const response = await fetch('/kimi/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${options.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(options.body),
      signal: options.signal,
      credentials: 'omit',
    });
    state.status = response.status;
    state.traceId = response.headers.get('x-trace-id');
    report();
    const isStream = (response.headers.get('content-type') ?? '').startsWith('text/event-stream');
    if (!isStream || response.body === null) {
      state.raw = await response.text();
      const payload = parseJson(state.raw);
      if (!response.ok || payload?.success === false) {
        state.error = payload?.error ?? { code: 'api_error', message: `The server answered ${response.status}.` };
      } else {
        const choice = payload?.choices?.[0];
        takeText(choice?.message?.reasoning_content ?? choice?.message?.reasoning ?? '', choice?.message?.content ?? '');
        state.finishReason = choice?.finish_reason ?? null;
        state.usage = payload?.usage ?? null;
      }
    } else {
      const decoder = new SseDecoder();
      const text = new TextDecoder();
      const reader = response.body.getReader();
      const onEvents = (events: ReturnType<SseDecoder['push']>) => {
        for (const event of events) {
          if (event.data === '[DONE]') {
            state.sawDone = true;
            continue;
          }
          const payload = parseJson(event.data);
          if (payload === null) continue;
          // An error after the stream began arrives in-band (SPEC.md), then [DONE].
          if (payload.success === false && payload.error !== undefined) state.error = payload.error;
          for (const choice of payload.choices ?? []) {
            if ((choice.index ?? 0) !== 0) continue;
            takeText(choice.delta?.reasoning_content ?? choice.delta?.reasoning ?? '', choice.delta?.content ?? '');
            if (choice.finish_reason) state.finishReason = choice.finish_reason;
          }
          if (payload.usage) state.usage = payload.usage;
        }
      };
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        state.raw += text.decode(value, { stream: true });
        onEvents(decoder.push(value));
        report();
      }
      state.raw += text.decode();
      onEvents(decoder.end());
    }
  } catch (error) {
    if (options.signal.aborted) state.aborted = true;
    else state.error = { code: 'network_error', message: error instanceof Error ? error.message : String(error) };
  }
  state.durationMs = Math.round(performance.now() - started);
  return state;
}

function parseJson(text: string): ChatPayload | null {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as ChatPayload) : null;
  } catch {
    return null;
  }
}
