/**
 * One daily chart (requests, tokens or cost per day, a series per model) in a labelled
 * figure: stacked bars for counts, lines for cost. The legend names each model; the cost
 * axis and tooltip read as money through format.ts (integer micro-units, never floats).
 */
import { useId, type ReactNode } from 'react';
import { Bar, BarChart, CartesianGrid, Legend, Line, LineChart, Tooltip, XAxis, YAxis } from 'recharts';
import { formatCount, formatMoney } from '../format';
import { dailySeries, type DailyMetric, type DailyRow, type DayRange } from './daily-series';
import { modelColor } from './model-colors';

export interface DailyChartProps {
  title: string;
  rows: readonly DailyRow[];
  range: DayRange;
  /** The models to draw, in legend order. */
  models: readonly string[];
  /** Every model the service lists, for stable colours. */
  knownModels: readonly string[];
  metric: DailyMetric;
  currency: string;
  /** Extra controls shown beside the title (the tokens chart's prompt/completion switch). */
  controls?: ReactNode;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** "2026-11-25" → "Nov 25" (the day is a UTC day; no time zone shifts it). */
export function dayLabel(day: string): string {
  const [, month, date] = day.split('-');
  return `${MONTHS[Number(month) - 1] ?? month} ${Number(date)}`;
}

/** Micro-units on an axis: "0.0012" rather than "0.0012 USD" on every tick. */
function moneyTick(micro: number): string {
  return formatMoney(Math.round(micro), '').trim();
}

export function DailyChart({ title, rows, range, models, knownModels, metric, currency, controls }: DailyChartProps) {
  const titleId = useId();
  const data = dailySeries(rows, range, models, metric);
  const isCost = metric === 'cost';
  const format = isCost ? (v: number) => formatMoney(Math.round(v), currency) : formatCount;
  const common = {
    data,
    responsive: true,
    style: { width: '100%', height: 260 },
    margin: { top: 8, right: 8, bottom: 0, left: 0 },
    title,
  } as const;
  const axes = (
    <>
      <CartesianGrid strokeDasharray="3 3" vertical={false} stroke="var(--border)" />
      <XAxis dataKey="day" tickFormatter={dayLabel} minTickGap={16} tick={{ fontSize: 12 }} />
      <YAxis
        allowDecimals={false}
        width={isCost ? 76 : 52}
        tick={{ fontSize: 12 }}
        tickFormatter={isCost ? moneyTick : formatCount}
        {...(isCost ? { label: { value: currency, angle: -90, position: 'insideLeft', fontSize: 12 } } : {})}
      />
      <Tooltip
        labelFormatter={(label) => dayLabel(String(label))}
        formatter={(value) => format(Number(value))}
      />
      <Legend wrapperStyle={{ fontSize: 13 }} />
    </>
  );
  return (
    <figure className="card daily-chart" aria-labelledby={titleId}>
      <div className="daily-chart-head">
        <figcaption id={titleId}>{title}</figcaption>
        {controls}
      </div>
      {isCost ? (
        <LineChart {...common}>
          {axes}
          {models.map((model) => (
            <Line
              key={model}
              type="monotone"
              dataKey={model}
              name={model}
              stroke={modelColor(model, knownModels)}
              strokeWidth={2}
              dot={data.length <= 31}
              isAnimationActive={false}
            />
          ))}
        </LineChart>
      ) : (
        <BarChart {...common}>
          {axes}
          {models.map((model) => (
            <Bar key={model} dataKey={model} name={model} stackId="models" fill={modelColor(model, knownModels)} isAnimationActive={false} />
          ))}
        </BarChart>
      )}
      <ChartNumbers title={title} data={data} models={models} format={format} />
    </figure>
  );
}

/**
 * The chart's numbers as a table, folded away: what a screen reader (or anyone who wants the
 * exact figure) reads instead of the bars. Only days with something in them are listed.
 */
function ChartNumbers({
  title,
  data,
  models,
  format,
}: {
  title: string;
  data: ReturnType<typeof dailySeries>;
  models: readonly string[];
  format(value: number): string;
}) {
  const busy = data.filter((point) => models.some((model) => point[model] !== 0));
  if (busy.length === 0) return <p className="muted daily-chart-none">Nothing in this range.</p>;
  return (
    <details className="daily-chart-numbers">
      <summary>The numbers</summary>
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">{title}, by day and model</caption>
          <thead>
            <tr>
              <th scope="col">Day (UTC)</th>
              {models.map((model) => (
                <th key={model} scope="col" className="num">
                  {model}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {busy.map((point) => (
              <tr key={point.day}>
                <th scope="row">{point.day}</th>
                {models.map((model) => (
                  <td key={model} className="num">
                    {format(point[model] as number)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}
