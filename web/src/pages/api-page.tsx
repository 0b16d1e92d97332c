/**
 * `/`: the Kimi Chat Completions API's service page (the seed's): what it is, its endpoint,
 * the seven models with their context and prices, an example, and **Acquire**.
 *
 * Acquire for a visitor: to /register?next=/?acquire=1 (or log in instead), and the
 * `acquire=1` that comes back with them finishes the Acquire here, once. The first Acquire
 * answers the first credential's token, which is shown once (TokenReveal).
 */
import { useEffect, useRef, useState } from 'react';
import { Link, useLocation, useSearch } from 'wouter';
import { postJson } from '../api';
import { ApiReference } from '../components/api-reference';
import { CodeBlock } from '../components/code-block';
import { CopyButton } from '../components/copy-button';
import { ErrorAlert } from '../components/error-alert';
import { Money } from '../components/money';
import { TokenReveal } from '../components/token-reveal';
import { useApiData } from '../components/use-api-data';
import { usePageTitle } from '../components/use-page-title';
import type { Service } from '../console-types';
import { formatCount } from '../format';
import { useSession } from '../session';
import './api-page.css';

export const KIMI_SLUG = 'kimi-chat-completions';
const ACQUIRE_RETURN = '/?acquire=1';

interface AcquireAnswer {
  application: { id: string; status: string };
  credential: { id: string; name: string; tokenPrefix: string } | null;
  token?: string;
}
interface BalanceAnswer {
  quota: number;
  balance: number;
  held: number;
  currency: string;
}

export function ApiPage() {
  usePageTitle('Kimi Chat Completions API');
  const { person } = useSession();
  if (person === undefined) return <p className="page loading">Loading…</p>;
  // A new person (login, logout) is a new page: services answer differently with a session.
  return <ApiPageBody key={person?.id ?? 'visitor'} loggedIn={person !== null} />;
}

function ApiPageBody({ loggedIn }: { loggedIn: boolean }) {
  const services = useApiData<{ services: Service[] }>('/api/services');
  const service = services.data?.services.find((s) => s.slug === KIMI_SLUG) ?? services.data?.services[0];
  const origin = window.location.origin;

  return (
    <section className="page api-page">
      <header className="api-hero">
        <div>
          <p className="api-eyebrow">Chat Completions · OpenAI-compatible</p>
          <h1>Kimi Chat Completions API</h1>
          <p className="lead">
            Kimi is a powerful AI conversation system: from your prompt it writes a fluent, natural reply in seconds.
            This API gives you Kimi&apos;s official chat models through one OpenAI-compatible endpoint, with streaming and
            the live reasoning of the thinking models.
          </p>
        </div>
      </header>

      <div className="api-layout">
        <div className="api-main">
          <section className="card" aria-labelledby="endpoint-heading">
            <h2 id="endpoint-heading">Endpoint</h2>
            <div className="endpoint row">
              <span className="badge">POST</span>
              <code className="endpoint-url">{origin}/kimi/chat/completions</code>
              <CopyButton text={`${origin}/kimi/chat/completions`} label="Copy URL" />
            </div>
            <p className="muted endpoint-auth">
              Authenticate with <code>Authorization: Bearer mg-…</code>, a credential&apos;s token. Send{' '}
              <code>&quot;stream&quot;: true</code> for server-sent events.
            </p>
          </section>

          <section className="card" aria-labelledby="models-heading">
            <h2 id="models-heading">Models</h2>
            <ErrorAlert error={services.error} title="The models could not be loaded." />
            {service === undefined ? (
              services.error ? null : <p className="loading">Loading models…</p>
            ) : (
              <ModelsTable service={service} />
            )}
          </section>

          <section className="card" aria-labelledby="example-heading">
            <h2 id="example-heading">Example</h2>
            <p className="muted">
              Three things are needed: a credential (its token), a <code>model</code>, and <code>messages</code>, each with a{' '}
              <code>role</code> (<code>user</code>, <code>assistant</code> or <code>system</code>) and its{' '}
              <code>content</code>. The reply is in <code>choices[0].message.content</code>; thinking models add{' '}
              <code>reasoning_content</code>; <code>usage</code> counts the tokens you pay for.
            </p>
            <div className="api-examples">
              <CodeBlock label="Request (cURL)" language="bash" code={exampleRequest(origin)} />
              <CodeBlock label="Response" language="json" code={EXAMPLE_RESPONSE} />
            </div>
          </section>

          <ApiReference />
        </div>

        <aside className="api-aside">
          <AcquireCard service={service} loggedIn={loggedIn} onAcquired={services.reload} />
        </aside>
      </div>
    </section>
  );
}

function AcquireCard({ service, loggedIn, onAcquired }: { service: Service | undefined; loggedIn: boolean; onAcquired(): void }) {
  const [location, navigate] = useLocation();
  const search = useSearch();
  const wantsAcquire = new URLSearchParams(search).get('acquire') === '1';
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [token, setToken] = useState<string | null>(null);
  const started = useRef(false);
  const acquired = service?.application != null;
  const balance = useApiData<BalanceAnswer>(acquired ? '/api/balance' : null);

  async function acquire(slug: string) {
    setBusy(true);
    setError(null);
    try {
      const answer = await postJson<AcquireAnswer>(`/api/services/${encodeURIComponent(slug)}/acquire`);
      if (answer.token !== undefined) setToken(answer.token);
      onAcquired();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  }

  // Back from login or register with ?acquire=1: finish the Acquire once, and drop the
  // parameter so a reload or a shared link does not acquire again.
  useEffect(() => {
    if (!wantsAcquire || !loggedIn || service === undefined || started.current) return;
    started.current = true;
    navigate(location, { replace: true });
    if (service.application === null) void Promise.resolve(service.slug).then(acquire);
  });

  function onAcquireClick() {
    if (service === undefined) return;
    if (!loggedIn) {
      navigate(`/register?next=${encodeURIComponent(ACQUIRE_RETURN)}`);
      return;
    }
    void acquire(service.slug);
  }

  const disabled = service !== undefined && service.status !== 'active';
  return (
    <section className="card acquire-card" aria-labelledby="acquire-heading">
      <h2 id="acquire-heading">Get access</h2>
      {service === undefined ? (
        <p className="loading">Loading…</p>
      ) : acquired ? (
        <>
          <p className="acquired row">
            <span className="badge ok">Acquired</span>
            <span className="muted">You can call this API.</span>
          </p>
          {token === null ? null : <TokenReveal token={token} onDone={() => setToken(null)} />}
          <div className="stat acquire-quota" aria-live="polite">
            <div className="label">Free quota left</div>
            <div className="value">
              {balance.data === undefined ? '…' : <Money micro={balance.data.quota} currency={balance.data.currency} />}
            </div>
          </div>
          <ErrorAlert error={balance.error} />
          <div className="row acquire-links">
            <Link href="/playground" className="button">
              Try it in the playground
            </Link>
            <Link href="/credentials" className="button secondary">
              Credentials
            </Link>
          </div>
        </>
      ) : (
        <>
          <p className="muted">
            Acquire the API to get your first credential, with a free quota to spend on any model.
          </p>
          <ErrorAlert error={error} title="Acquire failed." />
          <button
            type="button"
            className="button acquire-button"
            onClick={onAcquireClick}
            disabled={busy || disabled}
            aria-describedby={loggedIn ? undefined : 'acquire-visitor-hint'}
          >
            {busy ? 'Acquiring…' : 'Acquire'}
          </button>
          {disabled ? <p className="muted">This API is disabled by the operator.</p> : null}
          {loggedIn ? null : (
            <p className="muted acquire-login" id="acquire-visitor-hint">
              You will register first, then come straight back here. Have an account?{' '}
              <Link href={`/login?next=${encodeURIComponent(ACQUIRE_RETURN)}`}>Log in instead</Link>.
            </p>
          )}
        </>
      )}
      <p className="visually-hidden" role="status" aria-live="polite">
        {busy ? 'Acquiring the API…' : token !== null ? 'Acquired. Your new token is shown once below.' : ''}
      </p>
    </section>
  );
}

function ModelsTable({ service }: { service: Service }) {
  return (
    <>
      {/* Focusable: on a phone the table scrolls sideways, and a keyboard must be able to scroll it. */}
      <div className="table-wrap" tabIndex={0} role="region" aria-label="Models and prices (scrolls sideways on a small screen)">
        <table>
          <caption className="visually-hidden">Models, context length and prices per 1M tokens</caption>
          <thead>
            <tr>
              <th scope="col">Model</th>
              <th scope="col" className="num">
                Context
              </th>
              <th scope="col" className="num">
                Input
              </th>
              <th scope="col" className="num">
                Cached input
              </th>
              <th scope="col" className="num">
                Output
              </th>
              <th scope="col" className="num">
                Cache write
              </th>
            </tr>
          </thead>
          <tbody>
            {service.models.map((model) => (
              <tr key={model.id}>
                <th scope="row" className="model-name">
                  <code>{model.id}</code>
                  {model.thinking ? <span className="badge thinking">thinking</span> : null}
                </th>
                <td className="num">
                  <abbr title={`${formatCount(model.contextTokens)} tokens`}>{formatContext(model.contextTokens)}</abbr>
                </td>
                {model.price === null ? (
                  <td className="num muted" colSpan={4}>
                    no price set
                  </td>
                ) : (
                  <>
                    <td className="num">
                      <Money micro={model.price.input} currency={service.currency} />
                    </td>
                    <td className="num">
                      <Money micro={model.price.cachedInput} currency={service.currency} />
                    </td>
                    <td className="num">
                      <Money micro={model.price.output} currency={service.currency} />
                    </td>
                    <td className="num">
                      <Money micro={model.price.cacheWrite} currency={service.currency} />
                    </td>
                  </>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p className="muted table-note">
        Prices in {service.currency} per 1M tokens. Cached input is the price of prompt tokens that hit Kimi&apos;s cache;
        cache write, of prompt tokens Kimi writes to it.
        Thinking models also stream their reasoning, billed as output.
      </p>
    </>
  );
}

function formatContext(tokens: number): string {
  return tokens % 1024 === 0 ? `${tokens / 1024}K` : formatCount(tokens);
}

function exampleRequest(origin: string): string {
  return `curl ${origin}/kimi/chat/completions \\
  -H "Authorization: Bearer $MOONGATE_API_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{
    "model": "kimi-k2.5",
    "messages": [{"role": "user", "content": "Hello"}]
  }'`;
}

const EXAMPLE_RESPONSE = `{
  "id": "chatcmpl-b5d9e1b799c137e3",
  "object": "chat.completion",
  "created": 1770991864,
  "model": "kimi-k2.5",
  "choices": [
    {
      "index": 0,
      "message": {
        "role": "assistant",
        "content": "Hello! How can I help you today?",
        "reasoning_content": "The user said hello. I should greet them back…"
      },
      "finish_reason": "stop"
    }
  ],
  "usage": {"prompt_tokens": 9, "completion_tokens": 184, "total_tokens": 193}
}`;
