/**
 * Operator: top-up codes. Make N codes worth A each (A parsed exactly with parseMoney); the
 * codes are shown once (only their hashes are stored) with a copy-all button; the list
 * shows every code's amount and status, never the code.
 */
import { useState } from 'react';
import { api } from '../api';
import { CopyButton } from '../components/copy-button';
import { ErrorAlert } from '../components/error-alert';
import { formatMoneyExact, parseMoney } from '../format';
import { LocalTime } from '../components/local-time';
import { Money } from '../components/money';
import { useApiData } from '../components/use-api-data';
import { adminPath, type AdminCode, type NewCode } from './admin-api';
import { AdminTable } from './admin-table';
import { useAction } from './use-action';

const MAX_COUNT = 1000;

export function CodesTab({ currency }: { currency: string }) {
  const [refresh, setRefresh] = useState(0);
  const codes = useApiData<{ codes: AdminCode[]; next?: string | null }>(adminPath('/codes'), refresh);
  const action = useAction();
  const [amountText, setAmountText] = useState('');
  const [countText, setCountText] = useState('1');
  const [daysText, setDaysText] = useState('');
  const [tried, setTried] = useState(false);
  const [made, setMade] = useState<NewCode[] | null>(null);

  const amount = parseMoney(amountText);
  const count = /^\d{1,4}$/.test(countText.trim()) ? Number(countText) : null;
  const days = daysText.trim() === '' ? null : /^\d{1,4}$/.test(daysText.trim()) ? Number(daysText) : undefined;
  const amountBad = amount === null || amount === 0;
  const countBad = count === null || count < 1 || count > MAX_COUNT;
  const daysBad = days === undefined || days === 0;

  async function create() {
    setTried(true);
    if (amountBad || countBad || daysBad || amount === null || count === null || days === undefined) return;
    let answer: { codes: NewCode[] } | undefined;
    const ok = await action.run(
      async () => {
        answer = await api<{ codes: NewCode[] }>('POST', adminPath('/codes'), { amount, count, ...(days === null ? {} : { expiresInDays: days }) });
      },
      `${count} code${count === 1 ? '' : 's'} of ${formatMoneyExact(amount, currency)} made.`,
      () => setRefresh((n) => n + 1),
    );
    if (ok && answer !== undefined) {
      setMade(answer.codes);
      setTried(false);
    }
  }

  const rows = codes.data?.codes ?? [];
  return (
    <section aria-labelledby="codes-heading">
      <h2 id="codes-heading">Top-up codes</h2>
      <form
        className="card admin-inline-form"
        aria-label="Make top-up codes"
        onSubmit={(event) => {
          event.preventDefault();
          void create();
        }}
      >
        <div className="row admin-code-fields">
          <div className="field">
            <label htmlFor="code-amount">Amount each ({currency})</label>
            <input id="code-amount" inputMode="decimal" autoComplete="off" value={amountText} onChange={(e) => setAmountText(e.target.value)} aria-invalid={tried && amountBad} />
          </div>
          <div className="field">
            <label htmlFor="code-count">How many</label>
            <input id="code-count" inputMode="numeric" value={countText} onChange={(e) => setCountText(e.target.value)} aria-invalid={tried && countBad} />
          </div>
          <div className="field">
            <label htmlFor="code-days">Expire after days (optional)</label>
            <input id="code-days" inputMode="numeric" value={daysText} onChange={(e) => setDaysText(e.target.value)} aria-invalid={tried && daysBad} />
          </div>
        </div>
        {tried && (amountBad || countBad || daysBad) ? (
          <p className="hint error-text" role="alert">
            {amountBad ? 'Enter an amount like 5 or 12.50. ' : ''}
            {countBad ? `Make 1 to ${MAX_COUNT} codes. ` : ''}
            {daysBad ? 'Days: a whole number from 1, or empty for never.' : ''}
          </p>
        ) : null}
        <ErrorAlert error={action.error} />
        <button type="submit" disabled={action.busy}>
          {action.busy ? 'Making…' : 'Make codes'}
        </button>
      </form>
      <p className="visually-hidden" role="status" aria-live="polite">
        {action.done}
      </p>
      {made === null ? null : (
        <div className="token-reveal" role="region" aria-label="New top-up codes">
          <p className="token-reveal-warning">
            <strong>Copy these codes now.</strong> They are shown only once: moongate stores only their hashes.
          </p>
          <pre className="code admin-codes" data-testid="new-codes">
            {made.map((code) => code.code).join('\n')}
          </pre>
          <div className="row">
            <CopyButton text={made.map((code) => code.code).join('\n')} label="Copy all codes" />
            <button type="button" className="button small secondary" onClick={() => setMade(null)}>
              I have copied them
            </button>
          </div>
        </div>
      )}
      <h3>All codes</h3>
      <AdminTable
        load={codes}
        loadError="Codes could not be loaded."
        empty="No codes yet."
        rows={rows.length}
      >
        <table>
          <caption className="visually-hidden">Top-up codes</caption>
          <thead>
            <tr>
              <th scope="col">Id</th>
              <th scope="col" className="num">Amount</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
              <th scope="col">Expires</th>
              <th scope="col">Redeemed by</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.id}>
                <td>
                  <code>{row.id}</code>
                </td>
                <td className="num">
                  <Money micro={row.amount} currency={currency} />
                </td>
                <td>
                  <span className={`badge ${row.status === 'unused' ? 'ok' : 'muted'}`}>{row.status}</span>
                </td>
                <td>
                  <LocalTime ms={row.createdAt} />
                </td>
                <td>{row.expiresAt === null ? <span className="muted">never</span> : <LocalTime ms={row.expiresAt} />}</td>
                <td>
                  {row.redeemedBy === null ? (
                    <span className="muted">–</span>
                  ) : (
                    <>
                      {row.redeemedBy.email}
                      {row.redeemedAt === null ? null : (
                        <>
                          , <LocalTime ms={row.redeemedAt} />
                        </>
                      )}
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </AdminTable>
      {codes.data?.next == null ? null : <p className="muted">Showing the newest 100 codes.</p>}
    </section>
  );
}
