/**
 * /balance: the free quota left, the balance, what running requests hold, and redeeming a
 * top-up code (POST /api/balance/redeem). All amounts are integer micro-units from the API,
 * shown with formatMoney; nothing here does arithmetic on money but the quota bar's ratio.
 */
import { useState, type FormEvent, type ReactNode } from 'react';
import { Link } from 'wouter';
import { postJson } from '../api';
import { ErrorAlert } from '../components/error-alert';
import { Money } from '../components/money';
import { useApiData } from '../components/use-api-data';
import { usePageTitle } from '../components/use-page-title';
import { MoneyInChart } from './money-in-chart';
import './balance-page.css';

export interface BalanceSummary {
  quota: number;
  balance: number;
  held: number;
  currency: string;
  /** The free quota granted in all, when the server says (for the used-vs-granted bar). */
  quotaGranted?: number;
}

export function BalancePage() {
  usePageTitle('Balance');
  const summary = useApiData<BalanceSummary>('/api/balance');
  const [credited, setCredited] = useState<{ amount: number; currency: string } | null>(null);
  const data = summary.data;
  const [historyRefresh, setHistoryRefresh] = useState(0);

  return (
    <section className="page balance-page">
      <h1>Balance</h1>
      <p className="lead">
        Requests are paid from the free quota first, then from your balance. A running request holds what it may cost
        until it finishes.
      </p>
      <ErrorAlert error={summary.error} title="The balance could not be loaded." />
      {data === undefined ? (
        summary.error ? null : <p className="loading">Loading balance…</p>
      ) : (
        <>
          <div className="grid stats" aria-live="polite">
            <Stat label="Free quota left" value={<Money micro={data.quota} currency={data.currency} />} testId="stat-quota" />
            <Stat label="Balance" value={<Money micro={data.balance} currency={data.currency} />} testId="stat-balance" />
            <Stat label="Held by running requests" value={<Money micro={data.held} currency={data.currency} />} testId="stat-held" />
          </div>
          {data.quotaGranted === undefined || data.quotaGranted <= 0 ? null : (
            <QuotaBar left={data.quota} granted={data.quotaGranted} currency={data.currency} />
          )}
        </>
      )}

      <MoneyInChart refresh={historyRefresh} />

      <div className="grid two balance-actions">
        <RedeemCard
          onRedeemed={(answer) => {
            summary.setData(answer);
            setCredited({ amount: answer.redeemed, currency: answer.currency });
            setHistoryRefresh((n) => n + 1);
          }}
          credited={credited}
          onSending={() => setCredited(null)}
        />
        <section className="card" aria-labelledby="spending-heading">
          <h2 id="spending-heading">Where it went</h2>
          <p className="muted">Every request, its tokens and its cost, per day and per model.</p>
          <Link href="/usage" className="button secondary">
            See usage
          </Link>
        </section>
      </div>
    </section>
  );
}

function Stat({ label, value, testId }: { label: string; value: ReactNode; testId: string }) {
  return (
    <div className="card stat">
      <div className="label" id={`${testId}-label`}>
        {label}
      </div>
      <div className="value" data-testid={testId} aria-labelledby={`${testId}-label`}>
        {value}
      </div>
    </div>
  );
}

function QuotaBar({ left, granted, currency }: { left: number; granted: number; currency: string }) {
  const used = Math.max(0, granted - left);
  return (
    <div className="card quota-bar">
      <label htmlFor="quota-progress">
        Free quota used: <Money micro={used} currency={currency} /> of <Money micro={granted} currency={currency} />
      </label>
      <progress id="quota-progress" max={granted} value={used} />
    </div>
  );
}

function RedeemCard({
  onRedeemed,
  credited,
  onSending,
}: {
  onRedeemed(answer: BalanceSummary & { redeemed: number }): void;
  /** A new try: the last one's banner (its success or its error) goes. */
  onSending(): void;
  credited: { amount: number; currency: string } | null;
}) {
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    onSending();
    try {
      const answer = await postJson<BalanceSummary & { redeemed: number }>('/api/balance/redeem', { code: code.trim() });
      setCode('');
      onRedeemed(answer);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="card" onSubmit={(event) => void submit(event)} aria-labelledby="redeem-heading">
      <h2 id="redeem-heading">Redeem a top-up code</h2>
      <div role="status" aria-live="polite">
        {credited === null ? null : (
          <p className="alert ok">
            Credited <strong>
              <Money micro={credited.amount} currency={credited.currency} />
            </strong> to your balance.
          </p>
        )}
      </div>
      <ErrorAlert error={error} title="The code was not redeemed." />
      <div className="field">
        <label htmlFor="redeem-code">Code</label>
        <input
          id="redeem-code"
          value={code}
          autoComplete="off"
          spellCheck={false}
          placeholder="MG-XXXX-XXXX-XXXX-XXXX"
          required
          onChange={(event) => setCode(event.target.value)}
        />
        <p className="hint">From your operator. Case and dashes do not matter.</p>
      </div>
      <button type="submit" disabled={busy}>
        {busy ? 'Redeeming…' : 'Redeem'}
      </button>
    </form>
  );
}
