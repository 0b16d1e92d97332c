/**
 * Operator: the price of every model per 1M tokens (cache hit input, input, output, cache
 * write). Edits
 * are typed as decimals and parsed exactly into micro-units (parseMoney), then PUT; the
 * gateway bills with the new price from the next request.
 */
import { useState } from 'react';
import { api } from '../api';
import { ErrorAlert } from '../components/error-alert';
import { formatMoneyExact, parseMoney } from '../format';
import { useApiData } from '../components/use-api-data';
import { adminPath, type AdminPrice } from './admin-api';
import { AdminTable } from './admin-table';
import { useAction } from './use-action';

type PriceField = 'cachedInput' | 'input' | 'output' | 'cacheWrite';
const FIELDS: ReadonlyArray<{ key: PriceField; label: string }> = [
  { key: 'cachedInput', label: 'Input, cache hit' },
  { key: 'input', label: 'Input' },
  { key: 'output', label: 'Output' },
  { key: 'cacheWrite', label: 'Input, cache write' },
];

/** 1150000 → "1.15": the amount without the currency, as the person types it back. */
function priceText(micro: number): string {
  return formatMoneyExact(micro, '');
}

export function PricesTab({ models, currency }: { models: readonly string[]; currency: string }) {
  const [refresh, setRefresh] = useState(0);
  const prices = useApiData<{ prices: AdminPrice[] }>(adminPath('/prices'), refresh);
  const action = useAction();
  const [editing, setEditing] = useState<string | null>(null);
  const byModel = new Map((prices.data?.prices ?? []).map((price) => [price.model, price]));
  // The service's models first (all 7, priced or not), then any other priced model.
  const rows = [...models, ...[...byModel.keys()].filter((model) => !models.includes(model))];
  const editingPrice = editing === null ? undefined : byModel.get(editing);

  return (
    <section aria-labelledby="prices-heading">
      <h2 id="prices-heading">Prices</h2>
      <p className="muted">Per 1M tokens, in {currency}. A change applies to requests admitted after it.</p>
      <AdminTable
        load={prices}
        loadError="Prices could not be loaded."
        action={action}
        showActionError={false}
        loadingText="Loading prices…"
        rows={prices.data?.prices.length ?? 0}
        showEmptyTable
        forms={
          <>
            {editing === null ? null : (
              <PriceForm
                key={editing}
                model={editing}
                price={editingPrice}
                currency={currency}
                busy={action.busy}
                error={action.error}
                onSave={async (price) => {
                  const ok = await action.run(
                    () => api('PUT', adminPath(`/prices/${encodeURIComponent(editing)}`), price),
                    `The price of ${editing} is saved.`,
                    () => setRefresh((n) => n + 1),
                  );
                  if (ok) setEditing(null);
                }}
                onCancel={() => {
                  action.clear();
                  setEditing(null);
                }}
              />
            )}
          </>
        }
      >
        <table>
          <caption className="visually-hidden">Prices per 1M tokens</caption>
          <thead>
            <tr>
              <th scope="col">Model</th>
              {FIELDS.map((field) => (
                <th key={field.key} scope="col" className="num">
                  {field.label}
                </th>
              ))}
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((model) => {
              const price = byModel.get(model);
              return (
                <tr key={model}>
                  <th scope="row">{model}</th>
                  {FIELDS.map((field) => (
                    <td key={field.key} className="num">
                      {price === undefined ? <span className="muted">no price</span> : formatMoneyExact(price[field.key], currency)}
                    </td>
                  ))}
                  <td>
                    <button
                      type="button"
                      className="button small secondary"
                      onClick={() => {
                        action.clear();
                        setEditing(model);
                      }}
                      aria-label={`Edit the price of ${model}`}
                    >
                      Edit
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </AdminTable>
    </section>
  );
}

function PriceForm({
  model,
  price,
  currency,
  busy,
  error,
  onSave,
  onCancel,
}: {
  model: string;
  price: AdminPrice | undefined;
  currency: string;
  busy: boolean;
  error: unknown;
  onSave(price: Record<PriceField, number>): Promise<void>;
  onCancel(): void;
}) {
  const [texts, setTexts] = useState<Record<PriceField, string>>({
    cachedInput: price === undefined ? '' : priceText(price.cachedInput),
    input: price === undefined ? '' : priceText(price.input),
    output: price === undefined ? '' : priceText(price.output),
    cacheWrite: price === undefined ? '' : priceText(price.cacheWrite),
  });
  const [tried, setTried] = useState(false);
  const parsed = {
    cachedInput: parseMoney(texts.cachedInput),
    input: parseMoney(texts.input),
    output: parseMoney(texts.output),
    cacheWrite: parseMoney(texts.cacheWrite),
  };
  const valid = parsed.cachedInput !== null && parsed.input !== null && parsed.output !== null && parsed.cacheWrite !== null;
  return (
    <form
      className="card admin-inline-form"
      aria-label={`Price of ${model}`}
      onSubmit={(event) => {
        event.preventDefault();
        setTried(true);
        if (parsed.cachedInput === null || parsed.input === null || parsed.output === null || parsed.cacheWrite === null) return;
        void onSave({ cachedInput: parsed.cachedInput, input: parsed.input, output: parsed.output, cacheWrite: parsed.cacheWrite });
      }}
    >
      <h3>Price of {model}</h3>
      <div className="row admin-price-fields">
        {FIELDS.map((field) => {
          const bad = tried && parsed[field.key] === null;
          return (
            <div className="field" key={field.key}>
              <label htmlFor={`price-${field.key}`}>
                {field.label} ({currency} per 1M)
              </label>
              <input
                id={`price-${field.key}`}
                inputMode="decimal"
                autoComplete="off"
                value={texts[field.key]}
                onChange={(event) => setTexts((previous) => ({ ...previous, [field.key]: event.target.value }))}
                aria-invalid={bad}
                aria-describedby="price-hint"
              />
            </div>
          );
        })}
      </div>
      <p id="price-hint" className={tried && !valid ? 'hint error-text' : 'hint'}>
        Decimals like 1.15, at most 6 places; kept exactly.
      </p>
      <ErrorAlert error={error} />
      <div className="row">
        <button type="submit" disabled={busy}>
          {busy ? 'Saving…' : 'Save price'}
        </button>
        <button type="button" className="button secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
