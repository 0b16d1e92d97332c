/**
 * The playground's one call at a time: mints (or reuses) the playground token, runs the
 * request, shows it as it streams, can be stopped, and afterwards finds what was charged
 * in the usage log by the response's trace id.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, getJson } from '../api';
import type { ModelPrice, UsageRow } from '../console-types';
import { estimateCost } from './estimate-cost';
import { forgetPlaygroundToken, playgroundToken } from './playground-token';
import { runCompletion, type CompletionUsage } from './run-completion';

export type Phase = 'waiting' | 'streaming' | 'done' | 'stopped' | 'failed';

export interface RunView {
  phase: Phase;
  stream: boolean;
  model: string;
  /** A thinking model: the reasoning panel shows from the start. */
  thinking: boolean;
  reasoning: string;
  content: string;
  raw: string;
  traceId: string | null;
  ttftMs: number | null;
  durationMs: number | null;
  usage: CompletionUsage | null;
  finishReason: string | null;
  sawDone: boolean;
  /** The API's envelope (code, message) with the status and trace id; network failures as code network_error. */
  error: ApiError | null;
  /** What the usage log says was charged, once found. */
  charged: UsageRow | null;
  /** The price list's figure, until (or if never) the usage row is found. */
  estimate: number | null;
  lookingUpCost: boolean;
}

const USAGE_LOOKUPS = 10;
const USAGE_LOOKUP_GAP_MS = 400;

export function useCompletionRun() {
  const [run, setRun] = useState<RunView | null>(null);
  const controller = useRef<AbortController | null>(null);
  const runNumber = useRef(0);

  useEffect(() => () => controller.current?.abort(), []);

  const stop = useCallback(() => controller.current?.abort(), []);

  const start = useCallback(async (args: { credentialId: string; body: Record<string, unknown>; price: ModelPrice | null; thinking: boolean }) => {
    controller.current?.abort();
    const abort = new AbortController();
    controller.current = abort;
    const number = ++runNumber.current;
    const live = () => runNumber.current === number;
    const update = (patch: Partial<RunView>) => {
      if (live()) setRun((previous) => (previous === null ? previous : { ...previous, ...patch }));
    };
    setRun({
      phase: 'waiting',
      stream: args.body.stream === true,
      model: String(args.body.model),
      thinking: args.thinking,
      reasoning: '',
      content: '',
      raw: '',
      traceId: null,
      ttftMs: null,
      durationMs: null,
      usage: null,
      finishReason: null,
      sawDone: false,
      error: null,
      charged: null,
      estimate: null,
      lookingUpCost: false,
    });

    let outcome: Awaited<ReturnType<typeof runCompletion>> | null = null;
    // A refused playground token (its session or its 15 minutes ended) is minted again, once.
    for (let attempt = 0; attempt < 2; attempt++) {
      let token: string;
      try {
        token = await playgroundToken(args.credentialId);
      } catch (caught) {
        update({ phase: 'failed', error: caught instanceof ApiError ? caught : new ApiError(0, 'network_error', String(caught), null) });
        return;
      }
      outcome = await runCompletion({
        token,
        body: args.body,
        signal: abort.signal,
        onProgress: (progress) => update({ ...progress, phase: progress.reasoning !== '' || progress.content !== '' ? 'streaming' : 'waiting' }),
      });
      const refused = outcome.status === 401 && (outcome.error?.code === 'invalid_token' || outcome.error?.code === 'token_expired');
      if (!refused || attempt === 1) break;
      forgetPlaygroundToken(args.credentialId);
    }
    if (outcome === null || !live()) return;

    const usage = outcome.usage;
    const estimate =
      usage !== null && args.price !== null
        ? estimateCost(args.price, {
            prompt: usage.prompt_tokens,
            cached: usage.prompt_tokens_details?.cached_tokens ?? 0,
            completion: usage.completion_tokens,
          })
        : null;
    const phase: Phase = outcome.aborted ? 'stopped' : outcome.error !== null ? 'failed' : 'done';
    update({
      phase,
      reasoning: outcome.reasoning,
      content: outcome.content,
      raw: outcome.raw,
      traceId: outcome.traceId,
      ttftMs: outcome.ttftMs,
      durationMs: outcome.durationMs,
      usage,
      finishReason: outcome.finishReason,
      sawDone: outcome.sawDone,
      error: outcome.error === null ? null : new ApiError(outcome.status, outcome.error.code, outcome.error.message, outcome.traceId),
      estimate,
      lookingUpCost: outcome.traceId !== null && outcome.status !== 401,
    });
    if (outcome.traceId === null || outcome.status === 401) return;

    // The usage row is written when the request settles (batched): look for it a few times.
    const traceId = outcome.traceId;
    for (let i = 0; i < USAGE_LOOKUPS && live(); i++) {
      try {
        const page = await getJson<{ rows: UsageRow[] }>('/api/usage?limit=50');
        const row = page.rows.find((r) => r.traceId === traceId);
        if (row !== undefined) {
          update({ charged: row, lookingUpCost: false });
          return;
        }
      } catch {
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, USAGE_LOOKUP_GAP_MS));
    }
    update({ lookingUpCost: false });
  }, []);

  return { run, start, stop };
}
