/**
 * /credentials: the person's credentials (name, prefix, scope, status, limits, expiry,
 * created), a new one with its token shown once, and revoking with a confirmation.
 * Limits are set by the operator; here they are read-only, with the defaults when unset.
 */
import { useId, useState, type FormEvent } from 'react';
import { Link } from 'wouter';
import { api, postJson } from '../api';
import { ConfirmDialog } from '../components/confirm-dialog';
import { ErrorAlert } from '../components/error-alert';
import { LocalTime } from '../components/local-time';
import { TokenReveal } from '../components/token-reveal';
import { useApiData } from '../components/use-api-data';
import { usePageTitle } from '../components/use-page-title';
import type { Credential } from '../console-types';
import { formatCount } from '../format';
import './credentials-page.css';

interface Limits {
  rps: number | null;
  concurrency: number | null;
}
interface CredentialsAnswer {
  credentials: Credential[];
  defaults?: Partial<Limits>;
}

const EXPIRY_CHOICES: Array<{ value: string; label: string }> = [
  { value: '', label: 'Never' },
  { value: '7', label: 'In 7 days' },
  { value: '30', label: 'In 30 days' },
  { value: '90', label: 'In 90 days' },
  { value: '365', label: 'In a year' },
];

export function CredentialsPage() {
  usePageTitle('Credentials');
  const list = useApiData<CredentialsAnswer>('/api/credentials');
  const [issued, setIssued] = useState<{ name: string; token: string } | null>(null);
  const [revoking, setRevoking] = useState<Credential | null>(null);
  const [revokeBusy, setRevokeBusy] = useState(false);
  const [revokeError, setRevokeError] = useState<unknown>(null);
  const [status, setStatus] = useState('');
  // Expiry is judged against when the page opened: a render must not read the clock.
  const [openedAt] = useState(() => Date.now());

  async function revoke(credential: Credential) {
    setRevokeBusy(true);
    setRevokeError(null);
    setStatus('');
    try {
      await api('DELETE', `/api/credentials/${encodeURIComponent(credential.id)}`);
      setStatus(`Credential ${credential.name} revoked.`);
      setRevoking(null);
      list.reload();
    } catch (failure) {
      setRevokeError(failure);
      setRevoking(null);
    } finally {
      setRevokeBusy(false);
    }
  }

  const credentials = list.data?.credentials;
  return (
    <section className="page credentials-page">
      <h1>Credentials</h1>
      <p className="lead">
        A credential&apos;s token authenticates calls to the API (<code>Authorization: Bearer mg-…</code>). Make one per
        app or machine, so you can revoke one without breaking the others.
      </p>

      <CreateCredential
        onSending={() => {
          setIssued(null);
          setStatus('');
          setRevokeError(null);
        }}
        onCreated={(name, token) => {
          setIssued({ name, token });
          setStatus(`Credential ${name} created. Its token is shown once.`);
          list.reload();
        }}
      />
      {issued === null ? null : (
        <div className="card issued-card">
          <h2>Token for {issued.name}</h2>
          <TokenReveal token={issued.token} onDone={() => setIssued(null)} />
        </div>
      )}

      <h2 id="credentials-heading">Your credentials</h2>
      <p className="visually-hidden" role="status" aria-live="polite">
        {status}
      </p>
      <ErrorAlert error={list.error} title="The credentials could not be loaded." />
      <ErrorAlert error={revokeError} title="Revoking failed." />
      {credentials === undefined ? (
        list.error ? null : <p className="loading">Loading credentials…</p>
      ) : credentials.length === 0 ? (
        <div className="card empty-state">
          <p>No credentials yet.</p>
          <p className="muted">
            Create one above, or <Link href="/">acquire the API</Link> to get your first with the free quota.
          </p>
        </div>
      ) : (
        <div className="table-wrap">
          <table aria-labelledby="credentials-heading">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Token</th>
                <th scope="col">Works on</th>
                <th scope="col">Status</th>
                <th scope="col" className="num">
                  Rate limit
                </th>
                <th scope="col" className="num">
                  Concurrency
                </th>
                <th scope="col">Expires</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {credentials.map((credential) => (
                <CredentialRow
                  key={credential.id}
                  credential={credential}
                  defaults={list.data?.defaults}
                  now={openedAt}
                  onRevoke={() => setRevoking(credential)}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <p className="muted limits-note">
        Rate limit and concurrency are set by the operator; &ldquo;default&rdquo; means the server-wide limit applies.
      </p>

      <ConfirmDialog
        open={revoking !== null}
        title={`Revoke ${revoking?.name ?? 'credential'}?`}
        confirmLabel="Revoke"
        busy={revokeBusy}
        onCancel={() => setRevoking(null)}
        onConfirm={() => {
          if (revoking !== null) void revoke(revoking);
        }}
      >
        <p>
          Calls with the token <code>{revoking?.tokenPrefix}…</code> will be refused from now on. This cannot be undone.
        </p>
      </ConfirmDialog>
    </section>
  );
}

function CredentialRow({
  credential,
  defaults,
  now,
  onRevoke,
}: {
  credential: Credential;
  defaults: Partial<Limits> | undefined;
  now: number;
  onRevoke(): void;
}) {
  const expired = credential.status === 'active' && credential.expiresAt !== null && credential.expiresAt <= now;
  const status = expired ? 'expired' : credential.status;
  const badge = status === 'active' ? 'ok' : status === 'revoked' ? 'muted' : 'danger';
  return (
    <tr className={credential.status === 'revoked' ? 'revoked' : undefined}>
      <th scope="row" className="credential-name">
        {credential.name}
      </th>
      <td>
        <code>{credential.tokenPrefix}…</code>
      </td>
      <td>{credential.global ? <span className="badge">every service</span> : credential.serviceSlug ?? '–'}</td>
      <td>
        <span className={`badge ${badge}`}>{status}</span>
      </td>
      <td className="num">{limitText(credential.rps, defaults?.rps, '/s')}</td>
      <td className="num">{limitText(credential.concurrency, defaults?.concurrency, '')}</td>
      <td>{credential.expiresAt === null ? <span className="muted">never</span> : <Day ms={credential.expiresAt} />}</td>
      <td>
        <Day ms={credential.createdAt} />
      </td>
      <td>
        {credential.status === 'revoked' ? (
          <span className="muted">
            revoked{credential.revokedAt === null ? null : <> <Day ms={credential.revokedAt} /></>}
          </span>
        ) : (
          <button type="button" className="button small danger" onClick={onRevoke} aria-label={`Revoke ${credential.name}`}>
            Revoke
          </button>
        )}
      </td>
    </tr>
  );
}

/** A date that fits a table cell; the time to the second and the zone are in its tooltip. */
function Day({ ms }: { ms: number }) {
  return <LocalTime ms={ms} date />;
}

function limitText(value: number | null | undefined, fallback: number | null | undefined, unit: string): string {
  if (value !== null && value !== undefined) return `${formatCount(value)}${unit}`;
  if (fallback !== null && fallback !== undefined) return `default (${formatCount(fallback)}${unit})`;
  return 'default';
}

function CreateCredential({ onCreated, onSending }: { onCreated(name: string, token: string): void; onSending(): void }) {
  const [name, setName] = useState('');
  const [expiry, setExpiry] = useState('');
  const [global, setGlobal] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const globalHint = useId();

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    onSending();
    try {
      const answer = await postJson<{ credential: Credential; token: string }>('/api/credentials', {
        name: name.trim() === '' ? undefined : name.trim(),
        ...(global ? { global: true } : {}),
        ...(expiry === '' ? {} : { expiresInDays: Number(expiry) }),
      });
      setName('');
      setExpiry('');
      setGlobal(false);
      onCreated(answer.credential.name, answer.token);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="card create-credential" onSubmit={(event) => void submit(event)} aria-labelledby="create-heading">
      <h2 id="create-heading">New credential</h2>
      <ErrorAlert error={error} title="The credential was not created." />
      <div className="create-fields">
        <div className="field">
          <label htmlFor="credential-name">Name</label>
          <input
            id="credential-name"
            value={name}
            maxLength={100}
            placeholder="laptop"
            required
            onChange={(event) => setName(event.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="credential-expiry">Expires</label>
          <select id="credential-expiry" value={expiry} onChange={(event) => setExpiry(event.target.value)}>
            {EXPIRY_CHOICES.map((choice) => (
              <option key={choice.value} value={choice.value}>
                {choice.label}
              </option>
            ))}
          </select>
        </div>
        <div className="field create-global">
          <label className="checkbox">
            <input type="checkbox" checked={global} aria-describedby={globalHint} onChange={(event) => setGlobal(event.target.checked)} />
            Global
          </label>
          <span className="hint" id={globalHint}>
            Works on every service, paid from your balance.
          </span>
        </div>
        <div className="field create-submit">
          <button type="submit" disabled={busy}>
            {busy ? 'Creating…' : 'Create credential'}
          </button>
        </div>
      </div>
    </form>
  );
}
