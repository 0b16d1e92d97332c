/**
 * Operator: every person's credentials with their owner. Disable or enable one (with a
 * confirmation; a revoked one stays revoked) and set its rps and concurrency limits
 * (whole numbers; empty means the server's default).
 */
import { useState } from 'react';
import { Link } from 'wouter';
import { api } from '../api';
import { ConfirmDialog } from '../components/confirm-dialog';
import { ErrorAlert } from '../components/error-alert';
import { LocalTime } from '../components/local-time';
import { useApiData } from '../components/use-api-data';
import { adminPath, type AdminCredential } from './admin-api';
import { AdminTable } from './admin-table';
import { useAction } from './use-action';

export function CredentialsTab({ personId }: { personId: string }) {
  const [refresh, setRefresh] = useState(0);
  const reload = () => setRefresh((n) => n + 1);
  const credentials = useApiData<{ credentials: AdminCredential[]; next: string | null }>(adminPath('/credentials', { person: personId }), refresh);
  const action = useAction();
  const [confirming, setConfirming] = useState<AdminCredential | null>(null);
  const [editing, setEditing] = useState<AdminCredential | null>(null);

  const toggle = async (target: AdminCredential) => {
    const status = target.status === 'active' ? 'disabled' : 'active';
    const ok = await action.run(
      () => api('PATCH', adminPath(`/credentials/${encodeURIComponent(target.id)}`), { status }),
      `${target.name} (${target.tokenPrefix}…) is ${status === 'active' ? 'enabled' : 'disabled'}.`,
      reload,
    );
    if (ok) setConfirming(null);
  };

  const rows = credentials.data?.credentials ?? [];
  return (
    <section aria-labelledby="credentials-heading">
      <h2 id="credentials-heading">Credentials</h2>
      {personId === '' ? null : (
        <p>
          The credentials of {credentials.data?.credentials[0]?.ownerEmail ?? 'one person'}. <Link href="/admin?tab=credentials">Show everyone’s</Link>
        </p>
      )}
      <AdminTable
        load={credentials}
        loadError="Credentials could not be loaded."
        action={action}
        showActionError={confirming === null}
        loadingText="Loading credentials…"
        empty="No credentials yet."
        rows={rows.length}
        forms={
          <>
            {editing === null ? null : (
              <LimitsForm
                key={editing.id}
                credential={editing}
                busy={action.busy}
                onSave={async (limits) => {
                  const ok = await action.run(
                    () => api('PATCH', adminPath(`/credentials/${encodeURIComponent(editing.id)}`), limits),
                    `Limits of ${editing.name} (${editing.tokenPrefix}…) saved.`,
                    reload,
                  );
                  if (ok) setEditing(null);
                }}
                onCancel={() => setEditing(null)}
              />
            )}
          </>
        }
      >
        <table>
          <caption className="visually-hidden">Credentials</caption>
          <thead>
            <tr>
              <th scope="col">Owner</th>
              <th scope="col">Name</th>
              <th scope="col">Token</th>
              <th scope="col">Scope</th>
              <th scope="col">Status</th>
              <th scope="col" className="num">rps</th>
              <th scope="col" className="num">Concurrency</th>
              <th scope="col">Created</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.id}>
                <td className="admin-email">{row.ownerEmail}</td>
                <th scope="row">{row.name}</th>
                <td>
                  <code>{row.tokenPrefix}…</code>
                </td>
                <td>{row.global ? 'global' : (row.serviceSlug ?? '–')}</td>
                <td>
                  <span className={`badge ${row.status === 'active' ? 'ok' : row.status === 'disabled' ? 'danger' : 'muted'}`}>{row.status}</span>
                </td>
                <td className="num">{row.rps ?? <span className="muted">default</span>}</td>
                <td className="num">{row.concurrency ?? <span className="muted">default</span>}</td>
                <td>
                  <LocalTime ms={row.createdAt} date />
                </td>
                <td>
                  {row.status === 'revoked' ? (
                    <span className="muted">revoked</span>
                  ) : (
                    <div className="row admin-actions">
                      <button
                        type="button"
                        className="button small secondary"
                        onClick={() => {
                          action.clear();
                          setEditing(row);
                        }}
                        aria-label={`Limits of ${row.name} (${row.tokenPrefix}) of ${row.ownerEmail}`}
                      >
                        Limits
                      </button>
                      <button
                        type="button"
                        className={`button small ${row.status === 'active' ? 'danger' : 'secondary'}`}
                        onClick={() => {
                          action.clear();
                          setConfirming(row);
                        }}
                        aria-label={`${row.status === 'active' ? 'Disable' : 'Enable'} ${row.name} (${row.tokenPrefix}) of ${row.ownerEmail}`}
                      >
                        {row.status === 'active' ? 'Disable' : 'Enable'}
                      </button>
                    </div>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </AdminTable>
      {credentials.data?.next == null ? null : <p className="muted">Showing the newest 100; open a person’s credentials from the People tab to see theirs.</p>}
      <ConfirmDialog
        open={confirming !== null}
        title={`${confirming?.status === 'active' ? 'Disable' : 'Enable'} ${confirming?.name ?? ''} of ${confirming?.ownerEmail ?? ''}?`}
        confirmLabel={confirming?.status === 'active' ? 'Disable' : 'Enable'}
        busy={action.busy}
        onConfirm={() => {
          if (confirming !== null) void toggle(confirming);
        }}
        onCancel={() => setConfirming(null)}
      >
        {confirming?.status === 'active' ? (
          <p>
            Requests with its token (<code>{confirming.tokenPrefix}…</code>) are refused with 403 disabled until you enable it again.
          </p>
        ) : (
          <p>Its token works again.</p>
        )}
        <ErrorAlert error={action.error} />
      </ConfirmDialog>
    </section>
  );
}

/** A limit field: empty is the default (null), otherwise a whole number of at least 1. */
function parseLimit(text: string): number | null | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return null;
  return /^[1-9]\d{0,8}$/.test(trimmed) ? Number(trimmed) : undefined;
}

function LimitsForm({
  credential,
  busy,
  onSave,
  onCancel,
}: {
  credential: AdminCredential;
  busy: boolean;
  onSave(limits: { rps: number | null; concurrency: number | null }): Promise<void>;
  onCancel(): void;
}) {
  const [rps, setRps] = useState(credential.rps === null ? '' : String(credential.rps));
  const [concurrency, setConcurrency] = useState(credential.concurrency === null ? '' : String(credential.concurrency));
  const [tried, setTried] = useState(false);
  const rpsValue = parseLimit(rps);
  const concurrencyValue = parseLimit(concurrency);
  const rpsBad = tried && rpsValue === undefined;
  const concurrencyBad = tried && concurrencyValue === undefined;
  return (
    <form
      className="card admin-inline-form"
      aria-label={`Limits of ${credential.name}`}
      onSubmit={(event) => {
        event.preventDefault();
        setTried(true);
        if (rpsValue === undefined || concurrencyValue === undefined) return;
        void onSave({ rps: rpsValue, concurrency: concurrencyValue });
      }}
    >
      <h3>
        Limits of {credential.name} (<code>{credential.tokenPrefix}…</code>) of {credential.ownerEmail}
      </h3>
      <div className="row admin-limit-fields">
        <div className="field">
          <label htmlFor="limit-rps">Requests per second</label>
          <input id="limit-rps" inputMode="numeric" value={rps} onChange={(event) => setRps(event.target.value)} aria-invalid={rpsBad} aria-describedby="limit-hint" autoFocus />
        </div>
        <div className="field">
          <label htmlFor="limit-concurrency">Concurrent requests</label>
          <input
            id="limit-concurrency"
            inputMode="numeric"
            value={concurrency}
            onChange={(event) => setConcurrency(event.target.value)}
            aria-invalid={concurrencyBad}
            aria-describedby="limit-hint"
          />
        </div>
      </div>
      <p id="limit-hint" className={rpsBad || concurrencyBad ? 'hint error-text' : 'hint'}>
        Whole numbers from 1; leave empty for the server’s default.
      </p>
      <div className="row">
        <button type="submit" disabled={busy}>
          {busy ? 'Saving…' : 'Save limits'}
        </button>
        <button type="button" className="button secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
