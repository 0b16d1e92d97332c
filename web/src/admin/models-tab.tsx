/**
 * Operator: the model catalogue (docs/models.md). Every row, whatever its state, with its
 * limits and prices; Edit opens a form for the state (a retired model goes to a replacement
 * or answers a message), the limits and the prices, saved with one PATCH. Every replica
 * applies it without a restart.
 */
import { useState } from 'react';
import { api } from '../api';
import { ErrorAlert } from '../components/error-alert';
import { formatMoneyExact, parseMoney } from '../format';
import { useApiData } from '../components/use-api-data';
import { adminPath, type AdminModel, type ModelState } from './admin-api';
import { AdminTable } from './admin-table';
import { useAction } from './use-action';

const STATES: ReadonlyArray<{ id: ModelState; label: string }> = [
  { id: 'active', label: 'Active: served and listed' },
  { id: 'hidden', label: 'Hidden: served, not listed' },
  { id: 'retired', label: 'Retired' },
  { id: 'off', label: 'Off: neither served nor listed' },
];

function stateText(model: AdminModel): string {
  if (model.state !== 'retired') return model.state;
  return model.replacement !== undefined ? `retired → ${model.replacement}` : 'retired (message)';
}

export function ModelsTab({ currency }: { currency: string }) {
  const [refresh, setRefresh] = useState(0);
  const models = useApiData<{ models: AdminModel[] }>(adminPath('/models'), refresh);
  const action = useAction();
  const [editing, setEditing] = useState<string | null>(null);
  const rows = models.data?.models ?? [];
  const editingModel = rows.find((m) => m.id === editing);

  return (
    <section aria-labelledby="models-heading">
      <h2 id="models-heading">Models</h2>
      <p className="muted">
        The catalogue: what each model does, its state and its prices per 1M tokens in {currency}. A change applies on every server within a
        second, without a restart.
      </p>
      <AdminTable
        load={models}
        loadError="Models could not be loaded."
        action={action}
        showActionError={false}
        loadingText="Loading models…"
        rows={rows.length}
        showEmptyTable
        forms={
          editingModel === undefined ? null : (
            <ModelForm
              key={editingModel.id}
              model={editingModel}
              served={rows.filter((m) => (m.state === 'active' || m.state === 'hidden') && m.id !== editingModel.id).map((m) => m.id)}
              currency={currency}
              busy={action.busy}
              error={action.error}
              onSave={async (patch) => {
                const ok = await action.run(
                  () => api('PATCH', adminPath(`/models/${encodeURIComponent(editingModel.id)}`), patch),
                  `${editingModel.id} is saved.`,
                  () => setRefresh((n) => n + 1),
                );
                if (ok) setEditing(null);
              }}
              onCancel={() => {
                action.clear();
                setEditing(null);
              }}
            />
          )
        }
      >
        <table>
          <caption className="visually-hidden">The model catalogue</caption>
          <thead>
            <tr>
              <th scope="col">Model</th>
              <th scope="col">State</th>
              <th scope="col">Thinking</th>
              <th scope="col">Inputs</th>
              <th scope="col" className="num">Context</th>
              <th scope="col" className="num">Max out</th>
              <th scope="col" className="num">Input</th>
              <th scope="col" className="num">Output</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((model) => (
              <tr key={model.id}>
                <th scope="row">{model.id}</th>
                <td>{stateText(model)}</td>
                <td>
                  {model.thinkingMode}
                  {model.efforts.length > 0 ? ` (${model.efforts.join(', ')})` : ''}
                </td>
                <td>{model.inputs.join(', ')}</td>
                <td className="num">{model.contextTokens.toLocaleString('en')}</td>
                <td className="num">{model.maxCompletionTokens.toLocaleString('en')}</td>
                <td className="num">{model.price === null ? <span className="muted">no price</span> : formatMoneyExact(model.price.input, currency)}</td>
                <td className="num">{model.price === null ? <span className="muted">no price</span> : formatMoneyExact(model.price.output, currency)}</td>
                <td>
                  <button
                    type="button"
                    className="button small secondary"
                    onClick={() => {
                      action.clear();
                      setEditing(model.id);
                    }}
                    aria-label={`Edit ${model.id}`}
                  >
                    Edit
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </AdminTable>
    </section>
  );
}

type RetiredHow = 'replacement' | 'message';

function tokensOf(text: string): number | null {
  return /^\d{1,9}$/.test(text.trim()) && Number(text) >= 1 ? Number(text) : null;
}

function ModelForm({
  model,
  served,
  currency,
  busy,
  error,
  onSave,
  onCancel,
}: {
  model: AdminModel;
  served: readonly string[];
  currency: string;
  busy: boolean;
  error: unknown;
  onSave(patch: Record<string, unknown>): Promise<void>;
  onCancel(): void;
}) {
  const [state, setState] = useState<ModelState>(model.state);
  const [how, setHow] = useState<RetiredHow>(model.retiredMessage !== undefined ? 'message' : 'replacement');
  const [replacement, setReplacement] = useState(model.replacement ?? served[0] ?? '');
  const [message, setMessage] = useState(model.retiredMessage ?? '');
  const [context, setContext] = useState(String(model.contextTokens));
  const [defaultMax, setDefaultMax] = useState(String(model.defaultMaxTokens));
  const [largest, setLargest] = useState(String(model.maxCompletionTokens));
  const money = (micro: number | undefined) => (micro === undefined ? '' : formatMoneyExact(micro, ''));
  const [input, setInput] = useState(money(model.price?.input));
  const [cached, setCached] = useState(money(model.price?.cachedInput));
  const [output, setOutput] = useState(money(model.price?.output));
  const [tried, setTried] = useState(false);

  const tokens = { contextTokens: tokensOf(context), defaultMaxTokens: tokensOf(defaultMax), maxCompletionTokens: tokensOf(largest) };
  const prices = { input: parseMoney(input), cachedInput: parseMoney(cached), output: parseMoney(output) };
  const priceGiven = input.trim() !== '' || cached.trim() !== '' || output.trim() !== '';
  const badTokens = Object.values(tokens).some((v) => v === null);
  const badPrice = priceGiven && Object.values(prices).some((v) => v === null);
  const badRetire = state === 'retired' && (how === 'replacement' ? replacement === '' : message.trim() === '');

  return (
    <form
      className="card admin-inline-form"
      aria-label={`Model ${model.id}`}
      onSubmit={(event) => {
        event.preventDefault();
        setTried(true);
        if (badTokens || badPrice || badRetire) return;
        const patch: Record<string, unknown> = { state, ...tokens };
        if (state === 'retired') {
          patch.replacement = how === 'replacement' ? replacement : null;
          patch.retiredMessage = how === 'message' ? message.trim() : null;
        }
        if (priceGiven) patch.price = prices;
        void onSave(patch);
      }}
    >
      <h3>{model.id}</h3>
      <div className="row">
        <div className="field">
          <label htmlFor="model-state">State</label>
          <select id="model-state" value={state} onChange={(event) => setState(event.target.value as ModelState)}>
            {STATES.map((s) => (
              <option key={s.id} value={s.id}>
                {s.label}
              </option>
            ))}
          </select>
        </div>
        {state === 'retired' ? (
          <div className="field">
            <label htmlFor="model-retired-how">Requests for it</label>
            <select id="model-retired-how" value={how} onChange={(event) => setHow(event.target.value as RetiredHow)}>
              <option value="replacement">go to a replacement</option>
              <option value="message">get a message (404)</option>
            </select>
          </div>
        ) : null}
        {state === 'retired' && how === 'replacement' ? (
          <div className="field">
            <label htmlFor="model-replacement">Replacement</label>
            <select id="model-replacement" value={replacement} onChange={(event) => setReplacement(event.target.value)} aria-invalid={tried && badRetire}>
              {served.map((id) => (
                <option key={id} value={id}>
                  {id}
                </option>
              ))}
            </select>
          </div>
        ) : null}
        {state === 'retired' && how === 'message' ? (
          <div className="field">
            <label htmlFor="model-message">Message</label>
            <input id="model-message" value={message} maxLength={500} onChange={(event) => setMessage(event.target.value)} aria-invalid={tried && badRetire} />
          </div>
        ) : null}
      </div>
      <div className="row">
        <div className="field">
          <label htmlFor="model-context">Context (tokens)</label>
          <input id="model-context" inputMode="numeric" value={context} onChange={(event) => setContext(event.target.value)} aria-invalid={tried && tokens.contextTokens === null} />
        </div>
        <div className="field">
          <label htmlFor="model-default-max">Default completion (tokens)</label>
          <input id="model-default-max" inputMode="numeric" value={defaultMax} onChange={(event) => setDefaultMax(event.target.value)} aria-invalid={tried && tokens.defaultMaxTokens === null} />
        </div>
        <div className="field">
          <label htmlFor="model-largest">Largest completion (tokens)</label>
          <input id="model-largest" inputMode="numeric" value={largest} onChange={(event) => setLargest(event.target.value)} aria-invalid={tried && tokens.maxCompletionTokens === null} />
        </div>
      </div>
      <div className="row">
        <div className="field">
          <label htmlFor="model-input">Input ({currency} per 1M)</label>
          <input id="model-input" inputMode="decimal" autoComplete="off" value={input} onChange={(event) => setInput(event.target.value)} aria-invalid={tried && badPrice && prices.input === null} />
        </div>
        <div className="field">
          <label htmlFor="model-cached">Input, cache hit ({currency} per 1M)</label>
          <input id="model-cached" inputMode="decimal" autoComplete="off" value={cached} onChange={(event) => setCached(event.target.value)} aria-invalid={tried && badPrice && prices.cachedInput === null} />
        </div>
        <div className="field">
          <label htmlFor="model-output">Output ({currency} per 1M)</label>
          <input id="model-output" inputMode="decimal" autoComplete="off" value={output} onChange={(event) => setOutput(event.target.value)} aria-invalid={tried && badPrice && prices.output === null} />
        </div>
      </div>
      <p className={tried && (badTokens || badPrice || badRetire) ? 'hint error-text' : 'hint'}>
        Tokens are whole numbers; prices are decimals like 0.95, at most 6 places. A retired model needs a replacement or a message.
      </p>
      <ErrorAlert error={error} />
      <div className="row">
        <button type="submit" disabled={busy}>
          {busy ? 'Saving…' : 'Save model'}
        </button>
        <button type="button" className="button secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
