/**
 * Operator: people. Search by email; each person's role, status, money (quota, balance,
 * held), live credentials and last 30 days; disable or enable (with a confirmation) and
 * credit their balance with an exact decimal amount (parseMoney, never floats).
 */
import { useState } from 'react';
import { Link } from 'wouter';
import { api } from '../api';
import { ConfirmDialog } from '../components/confirm-dialog';
import { ErrorAlert } from '../components/error-alert';
import { formatCount, formatMoneyExact, parseMoney } from '../format';
import { useSession } from '../session';
import { useApiData } from '../usage/use-api-data';
import { adminPath, type AdminPerson } from './admin-api';
import { useAction } from './use-action';

const PAGE_SIZE = 100;

/** Money in a column whose header names the currency: "49.155". */
function amountText(micro: number): string {
  return formatMoneyExact(micro, '');
}

export function PeopleTab({ currency }: { currency: string }) {
  const { person: me } = useSession();
  const [query, setQuery] = useState('');
  const [refresh, setRefresh] = useState(0);
  const reload = () => setRefresh((n) => n + 1);
  const people = useApiData<{ people: AdminPerson[]; next: string | null }>(adminPath('/people', { query: query.trim(), limit: PAGE_SIZE }), refresh);
  const action = useAction();
  const [confirming, setConfirming] = useState<AdminPerson | null>(null);
  const [crediting, setCrediting] = useState<AdminPerson | null>(null);

  const toggle = async (target: AdminPerson) => {
    const status = target.status === 'active' ? 'disabled' : 'active';
    const ok = await action.run(
      () => api('PATCH', adminPath(`/people/${encodeURIComponent(target.id)}`), { status }),
      `${target.email} is ${status === 'active' ? 'enabled' : 'disabled'}.`,
      reload,
    );
    if (ok) setConfirming(null);
  };

  const rows = people.data?.people ?? [];
  return (
    <section aria-labelledby="people-heading">
      <h2 id="people-heading">People</h2>
      <div className="field admin-search">
        <label htmlFor="people-search">Search by email</label>
        <input id="people-search" type="search" value={query} onChange={(event) => setQuery(event.target.value)} placeholder="ada@" />
      </div>
      <ErrorAlert error={people.error} title="People could not be loaded." />
      {confirming === null ? <ErrorAlert error={action.error} /> : null}
      <p className="visually-hidden" role="status" aria-live="polite">
        {action.done}
      </p>
      {action.done === '' ? null : <div className="alert ok">{action.done}</div>}
      {crediting === null ? null : (
        <CreditForm
          key={crediting.id}
          person={crediting}
          currency={currency}
          busy={action.busy}
          onCredit={async (amount) => {
            const ok = await action.run(
              () => api('POST', adminPath(`/people/${encodeURIComponent(crediting.id)}/balance`), { amount }),
              `Credited ${formatMoneyExact(amount, currency)} to ${crediting.email}.`,
              reload,
            );
            if (ok) setCrediting(null);
          }}
          onCancel={() => setCrediting(null)}
        />
      )}
      {people.data === undefined && people.loading ? <p className="loading">Loading people…</p> : null}
      {people.data !== undefined && rows.length === 0 ? <p className="muted">Nobody matches “{query}”.</p> : null}
      {rows.length === 0 ? null : (
        <div className="table-wrap" aria-busy={people.loading}>
          <table>
            <caption className="visually-hidden">People</caption>
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Status</th>
                <th scope="col" className="num">Quota ({currency})</th>
                <th scope="col" className="num">Balance ({currency})</th>
                <th scope="col" className="num">Held ({currency})</th>
                <th scope="col" className="num">Credentials</th>
                <th scope="col" className="num">Requests, 30 d</th>
                <th scope="col" className="num">Cost, 30 d ({currency})</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <tr key={row.id}>
                  <th scope="row" className="admin-email">
                    {row.email}
                    {row.id === me?.id ? <span className="muted"> (you)</span> : null}
                  </th>
                  <td>
                    <span className={`badge ${row.role === 'admin' ? '' : 'muted'}`}>{row.role}</span>
                  </td>
                  <td>
                    <span className={`badge ${row.status === 'active' ? 'ok' : 'danger'}`}>{row.status}</span>
                  </td>
                  <td className="num">{amountText(row.quota)}</td>
                  <td className="num">{amountText(row.balance)}</td>
                  <td className="num">{amountText(row.held)}</td>
                  <td className="num">
                    <Link href={`/admin?tab=credentials&person=${encodeURIComponent(row.id)}`} aria-label={`${row.credentials} credentials of ${row.email}`}>
                      {formatCount(row.credentials)}
                    </Link>
                  </td>
                  <td className="num">{formatCount(row.requests30d)}</td>
                  <td className="num">{amountText(row.cost30d)}</td>
                  <td>
                    <div className="row admin-actions">
                      <button type="button" className="button small secondary" onClick={() => setCrediting(row)} aria-label={`Credit ${row.email}`}>
                        Credit
                      </button>
                      {row.id === me?.id ? null : (
                        <button
                          type="button"
                          className={`button small ${row.status === 'active' ? 'danger' : 'secondary'}`}
                          onClick={() => {
                            action.clear();
                            setConfirming(row);
                          }}
                          aria-label={`${row.status === 'active' ? 'Disable' : 'Enable'} ${row.email}`}
                        >
                          {row.status === 'active' ? 'Disable' : 'Enable'}
                        </button>
                      )}
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {people.data?.next == null ? null : <p className="muted">Showing the newest {PAGE_SIZE}; search to find others.</p>}
      <ConfirmDialog
        open={confirming !== null}
        title={confirming?.status === 'active' ? `Disable ${confirming.email}?` : `Enable ${confirming?.email ?? ''}?`}
        confirmLabel={confirming?.status === 'active' ? 'Disable' : 'Enable'}
        busy={action.busy}
        onConfirm={() => {
          if (confirming !== null) void toggle(confirming);
        }}
        onCancel={() => setConfirming(null)}
      >
        {confirming?.status === 'active' ? (
          <p>They are logged out, and their tokens are refused (403 disabled) until you enable them again.</p>
        ) : (
          <p>They can log in again and their active tokens work again.</p>
        )}
        <ErrorAlert error={action.error} />
      </ConfirmDialog>
    </section>
  );
}

function CreditForm({
  person,
  currency,
  busy,
  onCredit,
  onCancel,
}: {
  person: AdminPerson;
  currency: string;
  busy: boolean;
  onCredit(amount: number): Promise<void>;
  onCancel(): void;
}) {
  const [text, setText] = useState('');
  const [invalid, setInvalid] = useState(false);
  const amount = parseMoney(text);
  return (
    <form
      className="card admin-inline-form"
      aria-label={`Credit ${person.email}`}
      onSubmit={(event) => {
        event.preventDefault();
        if (amount === null || amount === 0) {
          setInvalid(true);
          return;
        }
        void onCredit(amount);
      }}
    >
      <h3>Credit the balance of {person.email}</h3>
      <div className="field">
        <label htmlFor="credit-amount">Amount ({currency})</label>
        <input
          id="credit-amount"
          inputMode="decimal"
          autoComplete="off"
          value={text}
          onChange={(event) => {
            setText(event.target.value);
            setInvalid(false);
          }}
          aria-invalid={invalid}
          aria-describedby="credit-amount-hint"
          autoFocus
        />
        <div id="credit-amount-hint" className={invalid ? 'hint error-text' : 'hint'}>
          {invalid ? 'Enter a positive amount like 5 or 12.50 (at most 6 decimals).' : amount === null || amount === 0 ? 'For example 5 or 12.50.' : `Adds ${formatMoneyExact(amount, currency)} to the balance.`}
        </div>
      </div>
      <div className="row">
        <button type="submit" disabled={busy}>
          {busy ? 'Crediting…' : 'Credit'}
        </button>
        <button type="button" className="button secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
