/**
 * The seed's "authorization" dropdown: one of the person's usable credentials. With none,
 * a button gets one (Acquire when the person has no application yet, else a new
 * credential), and its token is shown once, as everywhere in the console.
 */
import { useState } from 'react';
import { ApiError, postJson } from '../api';
import { CopyButton } from './copy-button';
import { KIMI_SERVICE_SLUG, type Credential } from './console-types';
import { ErrorAlert } from './error-alert';

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
  const [error, setError] = useState<ApiError | null>(null);
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
      setError(caught instanceof ApiError ? caught : new ApiError(0, 'network_error', String(caught), null));
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
      {error === null ? null : <ErrorAlert error={error} />}
      {token === null ? null : (
        <div className="alert ok pg-new-token" role="status">
          <p>
            <strong>Your new token, shown only this once.</strong> Copy it now to use it outside the console
            (as <code>MOONGATE_API_KEY</code> in the code beside); the playground does not need it.
          </p>
          <div className="row">
            <code className="token-box">{token}</code>
            <CopyButton text={token} label="Copy the new token" />
            <button type="button" className="small secondary" onClick={() => setToken(null)}>
              I saved it
            </button>
          </div>
        </div>
      )}
    </div>
  );
}
