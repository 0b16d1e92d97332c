/**
 * The answer as it comes: the reasoning of thinking models live in its own collapsible
 * panel, then the answer; afterwards the raw JSON or SSE exactly as received, the token
 * counts, the cost (what the usage log charged), the trace id, TTFT and duration.
 */
import { useState, type ReactNode } from 'react';
import { formatCount, formatDuration } from '../format';
import { CodeBlock } from '../components/code-block';
import { ErrorAlert } from '../components/error-alert';
import { Money } from '../components/money';
import { Tabs } from './tabs';
import type { RunView } from './use-completion-run';

const PHASE_TEXT: Record<RunView['phase'], string> = {
  waiting: 'Waiting for the first token…',
  streaming: 'Streaming…',
  done: 'Done.',
  stopped: 'Stopped.',
  failed: 'Failed.',
};

export function ResponsePanel({ run, currency }: { run: RunView; currency: string }) {
  const [tab, setTab] = useState('answer');
  const running = run.phase === 'waiting' || run.phase === 'streaming';
  const status = running
    ? run.stream
      ? PHASE_TEXT[run.phase]
      : 'Waiting for the answer…'
    : `${PHASE_TEXT[run.phase]}${run.durationMs === null ? '' : ` ${formatDuration(run.durationMs)}`}`;

  const answer = (
    <div className="pg-answer-view">
      {run.reasoning === '' && !(running && run.thinking) ? null : (
        <details className="pg-reasoning" open>
          <summary>
            Reasoning <span className="muted">({formatCount(run.reasoning.length)} characters)</span>
          </summary>
          <div role="log" aria-label="Reasoning" aria-busy={running} className="pg-text">
            {run.reasoning.trimStart()}
          </div>
        </details>
      )}
      <div role="log" aria-label="Answer" aria-busy={running} className="pg-text pg-answer">
        {/* The model sends a leading space; the display trims it (Raw keeps every byte). */}
        {run.content.trimStart()}
        {running ? <span className="pg-cursor" aria-hidden="true" /> : null}
      </div>
      {!running && run.content === '' && run.error === null ? (
        <p className="muted">{run.phase === 'stopped' ? 'Stopped before any answer text.' : 'No answer text (see finish reason).'}</p>
      ) : null}
    </div>
  );

  const rawLabel = run.stream ? 'Raw SSE events' : 'Raw JSON';
  const raw =
    run.raw === '' ? (
      <p className="muted">Nothing received yet.</p>
    ) : run.stream ? (
      <div className="pg-raw">
        <CodeBlock code={run.raw} language="plain" label="The event stream exactly as received" />
      </div>
    ) : (
      <CodeBlock code={prettyJson(run.raw)} language="json" label="The response body as received (indented)" />
    );

  return (
    <section className="card pg-response" aria-labelledby="pg-response-heading">
      <div className="row">
        <h2 id="pg-response-heading">Response</h2>
        <span className="spacer" />
        <span className={`badge ${run.phase === 'failed' ? 'danger' : run.phase === 'done' ? 'ok' : 'muted'}`} role="status" aria-live="polite">
          {status}
        </span>
      </div>
      {run.error === null ? null : <ErrorAlert error={run.error} title={`${run.error.status > 0 ? `${run.error.status} ` : ''}${run.error.code}:`} />}
      <Stats run={run} currency={currency} />
      <Tabs
        label="Response views"
        selected={tab}
        onSelect={setTab}
        items={[
          { id: 'answer', label: 'Answer', panel: answer },
          { id: 'raw', label: rawLabel, panel: raw },
        ]}
      />
    </section>
  );
}

function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function Stats({ run, currency }: { run: RunView; currency: string }) {
  const usage = run.usage;
  const reasoningTokens = usage?.completion_tokens_details?.reasoning_tokens;
  // A stopped stream never got its usage chunk; the usage log's row has the counts then.
  const logged = run.charged;
  const count = (fromUsage: number | undefined, fromLog: number | undefined) =>
    fromUsage !== undefined ? formatCount(fromUsage) : fromLog !== undefined ? formatCount(fromLog) : '–';
  const items: Array<{ id: string; label: string; value: ReactNode }> = [
    {
      id: 'trace',
      label: 'Trace id',
      value: run.traceId === null ? '–' : <code>{run.traceId}</code>,
    },
    { id: 'ttft', label: 'Time to first token', value: formatDuration(run.ttftMs) },
    { id: 'duration', label: 'Duration', value: formatDuration(run.durationMs) },
    { id: 'prompt', label: 'Prompt tokens', value: count(usage?.prompt_tokens, logged?.promptTokens) },
    { id: 'cached', label: 'Cached tokens', value: count(usage ? (usage.prompt_tokens_details?.cached_tokens ?? 0) : undefined, logged?.cachedTokens) },
    { id: 'completion', label: 'Completion tokens', value: count(usage?.completion_tokens, logged?.completionTokens) },
  ];
  if (reasoningTokens !== undefined) items.push({ id: 'reasoning', label: 'Reasoning tokens', value: formatCount(reasoningTokens) });
  items.push({
    id: 'cost',
    label: 'Cost',
    value:
      run.charged !== null ? (
        <>
          <Money micro={run.charged.cost} currency={currency} /> <span className="pg-note">charged</span>
        </>
      ) : run.estimate !== null ? (
        <>
          ≈ <Money micro={run.estimate} currency={currency} /> <span className="pg-note">{run.lookingUpCost ? 'checking the usage log…' : 'by the price list'}</span>
        </>
      ) : run.lookingUpCost ? (
        <span className="pg-note">checking the usage log…</span>
      ) : (
        '–'
      ),
  });
  if (run.finishReason !== null) items.push({ id: 'finish', label: 'Finish reason', value: <code>{run.finishReason}</code> });
  return (
    <dl className="pg-stats">
      {items.map((item) => (
        <div key={item.id} className="pg-stat">
          <dt id={`pg-stat-${item.id}`}>{item.label}</dt>
          <dd aria-labelledby={`pg-stat-${item.id}`}>{item.value}</dd>
        </div>
      ))}
    </dl>
  );
}
