/**
 * The seed's "authorization" dropdown: one of the person's usable credentials. With none,
 * a button gets one (Acquire when the person has no application yet, else a new
 * credential), and its token is shown once, as everywhere in the console.
 */
import { useState } from 'react';
import { postJson } from '../api';
import { ErrorAlert } from '../components/error-alert';
import { TokenReveal } from '../components/token-reveal';
import { KIMI_SERVICE_SLUG, type Credential } from '../console-types';

export function CredentialPicker({
  credentials,
  selected,
  onSelect,
  hasApplication,
  onCreated,
}: {
  credentials: Credential[];
  selected: string;
  onSelect: (id: string) => void;
  hasApplication: boolean;
  onCreated: (credential: Credential) => void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [token, setToken] = useState<string | null>(null);

  const getOne = async () => {
    setBusy(true);
    setError(null);
    try {
      const created = hasApplication
        ? await postJson<{ credential: Credential; token: string }>('/api/credentials', { name: 'playground' })
        : await postJson<{ credential: Credential | null; token?: string }>(`/api/services/${KIMI_SERVICE_SLUG}/acquire`);
      if (created.token !== undefined) setToken(created.token);
      if (created.credential !== null) onCreated(created.credential);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="field">
      {credentials.length === 0 ? (
        <div className="pg-empty">
          <p>
            <strong>No credential yet.</strong>{' '}
            {hasApplication
              ? 'Create one to call the API from here.'
              : 'Acquire the Kimi Chat Completions API: you get its free quota and a first credential.'}
          </p>
          <button type="button" onClick={() => void getOne()} disabled={busy}>
            {busy ? 'Working…' : hasApplication ? 'Create a credential' : 'Acquire'}
          </button>
        </div>
      ) : (
        <>
          <label htmlFor="pg-credential">Credential</label>
          <select id="pg-credential" value={selected} onChange={(event) => onSelect(event.target.value)}>
            {credentials.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name} ({c.tokenPrefix}…){c.global ? ' · global' : ''}
              </option>
            ))}
          </select>
          <p className="hint">The playground calls with a 15-minute token for this credential, never its own token.</p>
        </>
      )}
      <ErrorAlert error={error} />
      {token === null ? null : (
        <>
          <TokenReveal token={token} onDone={() => setToken(null)} />
          <p className="hint">
            Use it outside the console as <code>MOONGATE_API_KEY</code> in the code beside; the playground itself does not need it.
          </p>
        </>
      )}
    </div>
  );
}
