/**
 * The balance page's "Where the money came from": the free-quota grant and every redeemed
 * top-up code (GET /api/balance/history), as a bar per event over time and as a list with
 * the exact amounts, so a person sees what their quota and balance were made of.
 */
import { useId } from 'react';
import { Bar, BarChart, CartesianGrid, Cell, Tooltip, XAxis, YAxis } from 'recharts';
import { ErrorAlert } from '../components/error-alert';
import { LocalTime } from '../components/local-time';
import { Money } from '../components/money';
import { useApiData } from '../components/use-api-data';
import { formatDate, formatMoney } from '../format';

interface MoneyIn {
  kind: 'free_quota' | 'redemption';
  at: number;
  amount: number;
}

const KIND_LABEL: Record<MoneyIn['kind'], string> = { free_quota: 'Free quota', redemption: 'Top-up code' };
const KIND_COLOR: Record<MoneyIn['kind'], string> = { free_quota: '#4f63d2', redemption: '#1f8a5b' };

export function MoneyInChart({ refresh }: { refresh: number }) {
  const titleId = useId();
  const history = useApiData<{ events: MoneyIn[]; currency: string }>('/api/balance/history', refresh);
  const events = history.data?.events ?? [];
  const currency = history.data?.currency ?? '';
  const data = events.map((event, index) => ({ key: `${index}`, label: formatDate(event.at), amount: event.amount, kind: event.kind }));
  return (
    <figure className="card money-in" aria-labelledby={titleId}>
      <figcaption id={titleId}>Where the money came from</figcaption>
      <ErrorAlert error={history.error} title="The history could not be loaded." />
      {history.data === undefined ? null : events.length === 0 ? (
        <p className="muted">No free quota or top-up codes yet.</p>
      ) : (
        <>
          <BarChart data={data} responsive style={{ width: '100%', height: 220 }} margin={{ top: 8, right: 8, bottom: 0, left: 0 }} title="Where the money came from">
            <CartesianGrid strokeDasharray="3 3" vertical={false} stroke="var(--border)" />
            <XAxis dataKey="label" tick={{ fontSize: 12 }} minTickGap={8} />
            <YAxis width={76} tick={{ fontSize: 12 }} tickFormatter={(micro: number) => formatMoney(Math.round(micro), '')} />
            <Tooltip formatter={(value, _name, item) => [formatMoney(Number(value), currency), KIND_LABEL[(item.payload as { kind: MoneyIn['kind'] }).kind]]} />
            <Bar dataKey="amount" isAnimationActive={false}>
              {data.map((point) => (
                <Cell key={point.key} fill={KIND_COLOR[point.kind]} />
              ))}
            </Bar>
          </BarChart>
          <ul className="money-in-list">
            {events.map((event, index) => (
              <li key={index}>
                <span className="money-in-swatch" style={{ background: KIND_COLOR[event.kind] }} aria-hidden="true" />
                {KIND_LABEL[event.kind]}, <LocalTime ms={event.at} />: <Money micro={event.amount} currency={currency} />
              </li>
            ))}
          </ul>
        </>
      )}
    </figure>
  );
}
