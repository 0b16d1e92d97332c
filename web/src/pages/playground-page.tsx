/**
 * The playground (the seed's "Try it" panel): pick a credential and a model, write the
 * messages, set stream / max_tokens / temperature, press Try. It calls the real
 * POST /kimi/chat/completions with a short-lived playground token of that credential, and
 * beside it shows the client code for exactly this request.
 */
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { Link } from 'wouter';
import { ApiError, getJson } from '../api';
import { ErrorAlert } from '../components/error-alert';
import { Money } from '../components/money';
import { usePageTitle } from '../components/use-page-title';
import { KIMI_SERVICE_SLUG, usableCredentials, type Credential, type Service } from '../console-types';
import { CredentialPicker } from '../playground/credential-picker';
import { MessagesEditor, newMessage, wireMessage, type EditableMessage } from '../playground/messages-editor';
import { ResponsePanel } from '../playground/response-panel';
import { SnippetTabs } from '../playground/snippet-tabs';
import { useCompletionRun } from '../playground/use-completion-run';
import type { ChatBody } from '../snippets/generate-snippets';
import './playground-page.css';

const DEFAULT_MODEL = 'kimi-k2.5';

interface Loaded {
  service: Service;
  credentials: Credential[];
}

export function PlaygroundPage() {
  usePageTitle('Playground');
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [credentialId, setCredentialId] = useState('');
  const [model, setModel] = useState(DEFAULT_MODEL);
  const [messages, setMessages] = useState<EditableMessage[]>(() => [newMessage('user', 'Hello! What can you do?')]);
  const [stream, setStream] = useState(true);
  const [maxTokens, setMaxTokens] = useState('');
  const [temperature, setTemperature] = useState('');
  const { run, start, stop } = useCompletionRun();

  useEffect(() => {
    let live = true;
    Promise.all([getJson<{ services: Service[] }>('/api/services'), getJson<{ credentials: Credential[] }>('/api/credentials')])
      .then(([services, credentials]) => {
        if (!live) return;
        const service = services.services.find((s) => s.slug === KIMI_SERVICE_SLUG) ?? services.services[0];
        if (service === undefined) throw new ApiError(0, 'no_api', 'This server offers no service.', null);
        const usable = usableCredentials(credentials.credentials, Date.now());
        setLoaded({ service, credentials: usable });
        setCredentialId((current) => current || (usable[0]?.id ?? ''));
        setModel((current) => (service.models.some((m) => m.id === current) ? current : (service.models[0]?.id ?? current)));
      })
      .catch((error: unknown) => {
        if (live) setLoadError(error);
      });
    return () => {
      live = false;
    };
  }, []);

  const maxTokensValue = maxTokens.trim() === '' ? null : Number(maxTokens);
  const temperatureValue = temperature.trim() === '' ? null : Number(temperature);
  const maxTokensError = maxTokensValue !== null && !(Number.isInteger(maxTokensValue) && maxTokensValue >= 1) ? 'A whole number, 1 or more.' : null;
  const temperatureError = temperatureValue !== null && !(Number.isFinite(temperatureValue) && temperatureValue >= 0 && temperatureValue <= 2) ? 'A number from 0 to 2.' : null;

  const acceptsImages = loaded?.service.models.find((m) => m.id === model)?.inputs?.includes('image') ?? false;

  // The body exactly as sent, shared by Try and the generated code.
  const body = useMemo<ChatBody>(() => {
    const request: ChatBody = { model, messages: messages.map((message) => wireMessage(message, acceptsImages)), stream };
    if (maxTokensValue !== null && maxTokensError === null) request.max_tokens = maxTokensValue;
    if (temperatureValue !== null && temperatureError === null) request.temperature = temperatureValue;
    return request;
  }, [model, messages, acceptsImages, stream, maxTokensValue, maxTokensError, temperatureValue, temperatureError]);
  // The code beside it names an attached image, not its megabytes of base64.
  const snippetBody = useMemo<ChatBody>(() => elideImages(body), [body]);

  if (loadError !== null) {
    return (
      <section className="page">
        <h1>Playground</h1>
        <ErrorAlert error={loadError} />
      </section>
    );
  }
  if (loaded === null) {
    return (
      <section className="page">
        <h1>Playground</h1>
        <p className="loading" role="status">
          Loading models and credentials…
        </p>
      </section>
    );
  }

  const { service } = loaded;
  const selectedModel = service.models.find((m) => m.id === model);
  const running = run !== null && (run.phase === 'waiting' || run.phase === 'streaming');
  // Why Try is disabled, said beside it (a disabled button alone explains nothing).
  const blocked =
    credentialId === ''
      ? 'Pick or create a credential first.'
      : !messages.some((m) => m.content.trim() !== '' || (acceptsImages && m.image !== undefined))
        ? 'Write a message first.'
        : maxTokensError !== null || temperatureError !== null
          ? 'Fix the options marked above first.'
          : null;
  const canTry = blocked === null;

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    if (!canTry || running) return;
    void start({ credentialId, body, price: selectedModel?.price ?? null, thinking: selectedModel?.thinking ?? false });
  };

  return (
    <section className="page playground">
      <h1>Playground</h1>
      <p className="lead">
        Try the {service.name} with your own credential: this calls <code>POST /kimi/chat/completions</code> for real, so it
        counts in your <Link href="/usage">usage</Link> and is charged to your <Link href="/balance">quota or balance</Link>.
      </p>
      <div className="pg-layout">
        <div className="pg-main">
          <form className="card pg-request" aria-labelledby="pg-request-heading" onSubmit={onSubmit}>
            <h2 id="pg-request-heading">Request</h2>
            {/* While a reply streams the form shows what is running: read-only until it ends or is stopped. */}
            <fieldset className="pg-fieldset" disabled={running}>
            <div className="pg-pickers">
              <CredentialPicker
                credentials={loaded.credentials}
                selected={credentialId}
                onSelect={setCredentialId}
                hasApplication={service.application != null}
                onCreated={(credential) => {
                  setLoaded((current) => (current === null ? current : { ...current, credentials: [...current.credentials, credential] }));
                  setCredentialId(credential.id);
                }}
              />
              <div className="field">
                <label htmlFor="pg-model">Model</label>
                <select id="pg-model" value={model} onChange={(event) => setModel(event.target.value)}>
                  {service.models.map((m) => (
                    <option key={m.id} value={m.id}>
                      {m.id}
                      {m.thinking ? ' · thinking' : ''}
                    </option>
                  ))}
                </select>
                {selectedModel === undefined ? null : (
                  <p className="hint">
                    {selectedModel.thinking ? <span className="badge">thinking</span> : null}{' '}
                    {selectedModel.price === null ? (
                      'No price set.'
                    ) : (
                      <>
                        <Money micro={selectedModel.price.input} currency={service.currency} /> in ·{' '}
                        <Money micro={selectedModel.price.output} currency={service.currency} /> out per 1M tokens
                      </>
                    )}
                  </p>
                )}
              </div>
            </div>
            <MessagesEditor messages={messages} onChange={setMessages} acceptsImages={acceptsImages} />
            <div className="pg-options">
              <label className="pg-check">
                <input type="checkbox" checked={stream} onChange={(event) => setStream(event.target.checked)} /> Stream
              </label>
              <div className="field">
                <label htmlFor="pg-max-tokens">max_tokens</label>
                <input
                  id="pg-max-tokens"
                  type="number"
                  inputMode="numeric"
                  min={1}
                  step={1}
                  placeholder="model default"
                  value={maxTokens}
                  aria-invalid={maxTokensError !== null}
                  aria-describedby={maxTokensError === null ? undefined : 'pg-max-tokens-error'}
                  onChange={(event) => setMaxTokens(event.target.value)}
                />
                {maxTokensError === null ? null : (
                  <p id="pg-max-tokens-error" className="pg-field-error">
                    {maxTokensError}
                  </p>
                )}
              </div>
              <div className="field">
                <label htmlFor="pg-temperature">temperature</label>
                <input
                  id="pg-temperature"
                  type="number"
                  inputMode="decimal"
                  min={0}
                  max={2}
                  step={0.1}
                  placeholder="model default"
                  value={temperature}
                  aria-invalid={temperatureError !== null}
                  aria-describedby={temperatureError === null ? 'pg-temperature-hint' : 'pg-temperature-error pg-temperature-hint'}
                  onChange={(event) => setTemperature(event.target.value)}
                />
                {temperatureError === null ? null : (
                  <p id="pg-temperature-error" className="pg-field-error">
                    {temperatureError}
                  </p>
                )}
                <p id="pg-temperature-hint" className="hint">
                  kimi-k2.5 always uses 1; the K2 models clamp to 0–1.
                </p>
              </div>
            </div>
            </fieldset>
            <div className="row pg-actions">
              <button type="submit" disabled={!canTry || running} aria-describedby={blocked === null ? undefined : 'pg-try-blocked'}>
                {running ? 'Running…' : 'Try'}
              </button>
              {running ? (
                <button type="button" className="danger" onClick={stop}>
                  Stop
                </button>
              ) : null}
              {blocked === null || running ? null : (
                <span className="muted" id="pg-try-blocked">
                  {blocked}
                </span>
              )}
            </div>
          </form>
          {run === null ? (
            <section className="card pg-response pg-placeholder" aria-labelledby="pg-response-heading">
              <h2 id="pg-response-heading">Response</h2>
              <p className="muted">
                Press <strong>Try</strong> to send the request. With stream on, a thinking model's reasoning appears first, live, then
                the answer.
              </p>
            </section>
          ) : (
            <ResponsePanel run={run} currency={service.currency} />
          )}
        </div>
        <aside className="card pg-code" aria-labelledby="pg-code-heading">
          <h2 id="pg-code-heading">Code</h2>
          <p className="hint">
            This request in your language. Set <code>MOONGATE_API_KEY</code> to one of your tokens first (the
            token is never written into the code).
          </p>
          <SnippetTabs baseUrl={window.location.origin} body={snippetBody} />
        </aside>
      </div>
    </section>
  );
}

/** The body with each data URI cut to its head, for the code panel (a highlighter must not render megabytes). */
function elideImages(body: ChatBody): ChatBody {
  const messages = body.messages as { role: string; content: unknown }[];
  if (!messages.some((m) => Array.isArray(m.content))) return body;
  return {
    ...body,
    messages: messages.map((m) =>
      Array.isArray(m.content)
        ? {
            ...m,
            content: (m.content as Record<string, unknown>[]).map((part) => {
              const url = (part.image_url as { url?: string } | undefined)?.url;
              if (url === undefined || url.length <= 64) return part;
              return { ...part, image_url: { url: `${url.slice(0, url.indexOf(',') + 1)}<${url.length} characters of base64>` } };
            }),
          }
        : m,
    ),
  };
}
