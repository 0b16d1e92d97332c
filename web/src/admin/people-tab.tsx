/**
 * Operator: people. Search by email; each person's role, status, money (quota, balance,
 * held), live credentials and last 30 days; disable or enable (with a confirmation) and
 * credit their balance with an exact decimal amount (parseMoney, never floats); set their
 * limits across all their credentials (blank: the default; docs/security.md).
 */
import { useState } from 'react';
import { Link } from 'wouter';
import { api } from '../api';
import { ConfirmDialog } from '../components/confirm-dialog';
import { ErrorAlert } from '../components/error-alert';
import { formatCount, formatMoneyExact, parseMoney } from '../format';
import { useSession } from '../session';
import { useApiData } from '../components/use-api-data';
import { adminPath, type AdminPerson, type PersonLimits } from './admin-api';
import { AdminTable } from './admin-table';
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
  const people = useApiData<{ people: AdminPerson[]; next: string | null; defaults?: PersonLimits }>(adminPath('/people', { query: query.trim(), limit: PAGE_SIZE }), refresh);
  const action = useAction();
  const [confirming, setConfirming] = useState<AdminPerson | null>(null);
  const [crediting, setCrediting] = useState<AdminPerson | null>(null);
  const [limiting, setLimiting] = useState<AdminPerson | null>(null);
  const defaults = people.data?.defaults;

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
      <AdminTable
        load={people}
        loadError="People could not be loaded."
        action={action}
        showActionError={confirming === null}
        loadingText="Loading people…"
        empty={<>Nobody matches “{query}”.</>}
        rows={rows.length}
        forms={
          <>
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
            {limiting === null || defaults === undefined ? null : (
              <LimitsForm
                key={limiting.id}
                person={limiting}
                defaults={defaults}
                busy={action.busy}
                onSave={async (limits) => {
                  const ok = await action.run(
                    () => api('PATCH', adminPath(`/people/${encodeURIComponent(limiting.id)}`), limits),
                    `The limits of ${limiting.email} are saved.`,
                    reload,
                  );
                  if (ok) setLimiting(null);
                }}
                onCancel={() => setLimiting(null)}
              />
            )}
          </>
        }
      >
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
              <th scope="col">Limits</th>
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
                <td className="admin-limits">{defaults === undefined ? null : limitsText(row.limits, defaults)}</td>
                <td>
                  <div className="row admin-actions">
                    <button type="button" className="button small secondary" onClick={() => setLimiting(row)} aria-label={`Limits of ${row.email}`}>
                      Limits
                    </button>
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
      </AdminTable>
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

/** "25 credentials · 120/s · 40 at once", a person's own values marked with an asterisk. */
function limitsText(own: PersonLimits<number | null>, defaults: PersonLimits): string {
  const show = (value: number | null, fallback: number) => (value === null ? String(fallback) : `${value}*`);
  return `${show(own.credentials, defaults.credentials)} credentials · ${show(own.rps, defaults.rps)}/s · ${show(own.concurrency, defaults.concurrency)} at once`;
}

const LIMIT_FIELDS: Array<{ key: keyof PersonLimits; label: string }> = [
  { key: 'credentials', label: 'Credentials they may hold' },
  { key: 'rps', label: 'Requests per second, all credentials' },
  { key: 'concurrency', label: 'Requests at once, all credentials' },
];

function LimitsForm({
  person,
  defaults,
  busy,
  onSave,
  onCancel,
}: {
  person: AdminPerson;
  defaults: PersonLimits;
  busy: boolean;
  onSave(limits: PersonLimits<number | null>): Promise<void>;
  onCancel(): void;
}) {
  const [texts, setTexts] = useState<PersonLimits<string>>({
    credentials: person.limits.credentials?.toString() ?? '',
    rps: person.limits.rps?.toString() ?? '',
    concurrency: person.limits.concurrency?.toString() ?? '',
  });
  const [invalid, setInvalid] = useState(false);
  const parse = (text: string): number | null | undefined => {
    if (text.trim() === '') return null;
    return /^\d+$/.test(text.trim()) && Number(text) >= 1 && Number(text) <= 1_000_000 ? Number(text) : undefined;
  };
  return (
    <form
      className="card admin-inline-form"
      aria-label={`Limits of ${person.email}`}
      onSubmit={(event) => {
        event.preventDefault();
        const values = { credentials: parse(texts.credentials), rps: parse(texts.rps), concurrency: parse(texts.concurrency) };
        if (values.credentials === undefined || values.rps === undefined || values.concurrency === undefined) {
          setInvalid(true);
          return;
        }
        void onSave({ credentials: values.credentials, rps: values.rps, concurrency: values.concurrency });
      }}
    >
      <h3>Limits of {person.email}</h3>
      <p className="hint">Across all their credentials. Leave a field blank for the default.</p>
      {LIMIT_FIELDS.map(({ key, label }) => (
        <div className="field" key={key}>
          <label htmlFor={`limit-${key}`}>{label}</label>
          <input
            id={`limit-${key}`}
            inputMode="numeric"
            autoComplete="off"
            placeholder={`${defaults[key]} (default)`}
            value={texts[key]}
            aria-invalid={invalid && parse(texts[key]) === undefined}
            onChange={(event) => {
              setTexts({ ...texts, [key]: event.target.value });
              setInvalid(false);
            }}
          />
        </div>
      ))}
      {invalid ? <p className="hint error-text">Each limit is a whole number from 1 to 1,000,000, or blank.</p> : null}
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
