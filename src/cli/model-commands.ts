/**
 * `moongate model list | add | set | retire`: the model catalogue (docs/models.md). Every
 * change is one transaction that also bumps the catalogue version, so running servers pick
 * it up within a second without a restart (and at once for a model they are asked for and
 * do not know yet). Prices given here are written to the price table in the same transaction.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { Kysely } from 'kysely';
import { formatAmount, parseAmount } from '../billing/money.js';
import { setPrice } from '../billing/price-store.js';
import { listPrices } from '../billing/usage-summaries.js';
import { ModelStore, type ModelPatch } from '../catalogue/model-store.js';
import {
  INPUT_KINDS,
  MODEL_STATES,
  MoongateError,
  REASONING_EFFORTS,
  SAMPLING_PARAMETERS,
  type InputKind,
  type KimiModel,
  type ModelState,
  type ReasoningEffort,
  type SamplingParameter,
  type TemperatureRule,
  type ThinkingMode,
} from '../contract/index.js';
import type { Price } from '../billing/price-list.js';
import type { Database } from '../store/database.js';
import { formatTable } from './format-table.js';
import { withStore } from './with-store.js';
import { announceChange } from './announce-change.js';

const THINKING_MODES: readonly ThinkingMode[] = ['never', 'always', 'switchable'];
const TEMPERATURE_RULES: readonly TemperatureRule[] = ['fixed-one', 'clamp-zero-one'];

function oneOf<T extends string>(allowed: readonly T[], what: string): (text: string) => T {
  return (text) => {
    if (!(allowed as readonly string[]).includes(text)) throw new InvalidArgumentError(`${what} is one of ${allowed.join(', ')}`);
    return text as T;
  };
}

/** A comma list of allowed values; "none" or "" is the empty list. */
function listOf<T extends string>(allowed: readonly T[], what: string): (text: string) => T[] {
  return (text) => {
    const items = text.trim() === '' || text.trim() === 'none' ? [] : text.split(',').map((item) => item.trim());
    const wrong = items.filter((item) => !(allowed as readonly string[]).includes(item));
    if (wrong.length > 0) throw new InvalidArgumentError(`${what} may only name ${allowed.join(', ')} (not ${wrong.join(', ')})`);
    return items as T[];
  };
}

function parseTokens(text: string): number {
  if (!/^\d{1,9}$/.test(text.trim())) throw new InvalidArgumentError('a whole number of tokens, such as 262144');
  const value = Number(text.trim());
  if (value < 1) throw new InvalidArgumentError('at least 1 token');
  return value;
}

function parsePrice(text: string): number {
  try {
    const value = parseAmount(text);
    if (value < 0) throw new RangeError('a price cannot be negative');
    return value;
  } catch (error) {
    throw new InvalidArgumentError(error instanceof Error ? error.message : String(error));
  }
}

function parseBoolean(text: string): boolean {
  if (text === 'true' || text === 'yes') return true;
  if (text === 'false' || text === 'no') return false;
  throw new InvalidArgumentError('true or false');
}

interface RowOptions {
  displayName?: string;
  thinking?: ThinkingMode;
  efforts?: ReasoningEffort[];
  inputs?: InputKind[];
  remoteMedia?: boolean;
  context?: number;
  defaultMaxTokens?: number;
  maxCompletionTokens?: number;
  temperature?: TemperatureRule;
  fixedSampling?: SamplingParameter[];
  state?: ModelState;
  cachedInput?: number;
  cacheWrite?: number;
  input?: number;
  output?: number;
  json?: true;
}

/** The flags `add` and `set` share. */
function rowFlags(command: Command): Command {
  return command
    .option('--display-name <name>', 'the name the console shows')
    .option('--thinking <mode>', `${THINKING_MODES.join(', ')} (switchable: on by default, thinking.type "disabled" turns it off)`, oneOf(THINKING_MODES, 'thinking'))
    .option('--efforts <list>', `reasoning_effort values it takes, a comma list of ${REASONING_EFFORTS.join(', ')}, or none`, listOf(REASONING_EFFORTS, 'efforts'))
    .option('--inputs <list>', `a comma list of ${INPUT_KINDS.join(', ')} (text always)`, listOf(INPUT_KINDS, 'inputs'))
    .option('--remote-media <bool>', 'whether image and video parts may be public URLs (true/false)', parseBoolean)
    .option('--context <tokens>', 'the context window in tokens, such as 262144', parseTokens)
    .option('--default-max-tokens <tokens>', 'the completion cap when a request gives none', parseTokens)
    .option('--max-completion-tokens <tokens>', 'the largest completion a request may ask for', parseTokens)
    .option('--temperature <rule>', TEMPERATURE_RULES.join(' or '), oneOf(TEMPERATURE_RULES, 'temperature'))
    .option('--fixed-sampling <list>', `parameters it refuses to have changed: a comma list of ${SAMPLING_PARAMETERS.join(', ')}, or none`, listOf(SAMPLING_PARAMETERS, 'fixed sampling'))
    .option('--state <state>', `${MODEL_STATES.filter((s) => s !== 'retired').join(', ')} (retire with \`model retire\`)`, oneOf(MODEL_STATES.filter((s) => s !== 'retired'), 'state'))
    .option('--cached-input <amount>', 'price per 1M input tokens served from the cache, such as 0.16', parsePrice)
    .option('--cache-write <amount>', 'price per 1M input tokens written to the context cache (default: the input price)', parsePrice)
    .option('--input <amount>', 'price per 1M input tokens, such as 0.95', parsePrice)
    .option('--output <amount>', 'price per 1M output tokens, such as 4.00', parsePrice)
    .option('--json', 'print the row (prices in micro-units) as JSON');
}

function patchOf(options: RowOptions): ModelPatch {
  const patch: { -readonly [K in keyof ModelPatch]: ModelPatch[K] } = {};
  if (options.displayName !== undefined) patch.displayName = options.displayName;
  if (options.thinking !== undefined) patch.thinkingMode = options.thinking;
  if (options.efforts !== undefined) patch.efforts = options.efforts;
  if (options.inputs !== undefined) patch.inputs = options.inputs.includes('text') ? options.inputs : ['text', ...options.inputs];
  if (options.remoteMedia !== undefined) patch.remoteMedia = options.remoteMedia;
  if (options.context !== undefined) patch.contextTokens = options.context;
  if (options.defaultMaxTokens !== undefined) patch.defaultMaxTokens = options.defaultMaxTokens;
  if (options.maxCompletionTokens !== undefined) patch.maxCompletionTokens = options.maxCompletionTokens;
  if (options.temperature !== undefined) patch.temperature = options.temperature;
  if (options.fixedSampling !== undefined) patch.fixedSampling = options.fixedSampling;
  if (options.state !== undefined) patch.state = options.state;
  return patch;
}

/** Writes the prices given (omitted ones keep their value; a new model needs all three). */
async function writePrices(db: Kysely<Database>, id: string, options: RowOptions): Promise<void> {
  const given = [options.cachedInput, options.input, options.output, options.cacheWrite];
  if (given.every((v) => v === undefined)) return;
  const current = (await listPrices(db)).find((p) => p.model === id);
  const input = options.input ?? current?.input;
  const output = options.output ?? current?.output;
  if (input === undefined || output === undefined) throw new MoongateError('bad_request', `${id} has no price yet: give --input and --output (and --cached-input)`);
  const price: Price = {
    model: id,
    input,
    output,
    cachedInput: options.cachedInput ?? current?.cachedInput ?? input,
    cacheWrite: options.cacheWrite ?? current?.cacheWrite ?? input,
  };
  await setPrice(db, price);
}

interface ListedModel extends KimiModel {
  price: { cachedInput: number; input: number; output: number; cacheWrite: number } | null;
}

async function withPrices(db: Kysely<Database>, models: readonly KimiModel[]): Promise<ListedModel[]> {
  const prices = new Map((await listPrices(db)).map((p) => [p.model, p]));
  return models.map((m) => {
    const p = prices.get(m.id);
    return { ...m, price: p === undefined ? null : { cachedInput: p.cachedInput, input: p.input, output: p.output, cacheWrite: p.cacheWrite } };
  });
}

function stateCell(m: KimiModel): string {
  if (m.state !== 'retired') return m.state;
  return m.replacement !== undefined ? `retired -> ${m.replacement}` : 'retired (message)';
}

async function printRow(db: Kysely<Database>, model: KimiModel, json: boolean, verb: string): Promise<void> {
  const [listed] = await withPrices(db, [model]);
  if (json) process.stdout.write(`${JSON.stringify(listed, null, 2)}\n`);
  process.stderr.write(`${verb} ${model.id} (${stateCell(model)}). Running servers apply it within a second, no restart needed.\n`);
}

export function registerModelCommands(program: Command): void {
  const model = program.command('model').description('list and change the model catalogue (docs/models.md)');

  model
    .command('list')
    .description('list every model in the catalogue, whatever its state')
    .option('--json', 'a JSON array, prices in micro-units per 1M tokens')
    .action(async (options: { json?: true }) => {
      await withStore(async (store, config) => {
        const rows = await withPrices(store.db, await new ModelStore(store.db).list());
        if (options.json === true) {
          process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
          return;
        }
        const c = config.billing.currency;
        process.stdout.write(
          formatTable(
            ['ID', 'STATE', 'THINKING', 'EFFORTS', 'INPUTS', 'CONTEXT', 'MAX OUT', `INPUT (${c}/1M)`, `CACHED`, `OUTPUT`],
            rows.map((m) => [
              m.id,
              stateCell(m),
              m.thinkingMode,
              m.efforts.join(',') || '-',
              m.inputs.join(','),
              String(m.contextTokens),
              String(m.maxCompletionTokens),
              m.price === null ? '-' : formatAmount(m.price.input),
              m.price === null ? '-' : formatAmount(m.price.cachedInput),
              m.price === null ? '-' : formatAmount(m.price.output),
            ]),
          ),
        );
      });
    });

  rowFlags(
    model
      .command('add')
      .description('add a model (active by default: give its prices) that channels declared with "*" serve under its own name')
      .argument('<id>', 'the id clients send, such as kimi-k3.1-pro'),
  ).action(async (id: string, options: RowOptions) => {
    if (options.context === undefined) throw new MoongateError('bad_request', 'give the context window: --context <tokens>');
    const thinkingMode = options.thinking ?? 'never';
    const maxCompletionTokens = options.maxCompletionTokens ?? options.context;
    const inputs = options.inputs ?? ['text'];
    const row: KimiModel = {
      id,
      displayName: options.displayName ?? id,
      thinking: thinkingMode !== 'never',
      thinkingMode,
      efforts: options.efforts ?? [],
      inputs: inputs.includes('text') ? inputs : ['text', ...inputs],
      remoteMedia: options.remoteMedia ?? false,
      contextTokens: options.context,
      defaultMaxTokens: options.defaultMaxTokens ?? Math.min(thinkingMode === 'never' ? 8_192 : 32_768, maxCompletionTokens),
      maxCompletionTokens,
      temperature: options.temperature ?? 'clamp-zero-one',
      fixedSampling: options.fixedSampling ?? [],
      state: options.state ?? 'active',
    };
    await withStore(async (store, config) => {
      const added = await new ModelStore(store.db).add(row, (trx) => writePrices(trx, id, options));
      await announceChange(config, { kind: 'model', id });
      await printRow(store.db, added, options.json === true, 'Added');
    });
  });

  rowFlags(
    model
      .command('set')
      .description("change a model (omitted fields keep their value); `--state active` switches a shipped model on")
      .argument('<id>', 'a model id, such as kimi-k2.6'),
  ).action(async (id: string, options: RowOptions) => {
    await withStore(async (store, config) => {
      const changed = await new ModelStore(store.db).update(id, patchOf(options), (trx) => writePrices(trx, id, options));
      await announceChange(config, { kind: 'model', id });
      await printRow(store.db, changed, options.json === true, 'Changed');
    });
  });

  model
    .command('retire')
    .description('retire a model: its requests go to a replacement, or get a message (a 404 model_not_found)')
    .argument('<id>', 'a model id, such as kimi-k2-0711-preview')
    .option('--replacement <id>', 'the active or hidden model that serves its requests from now on')
    .option('--message <text>', 'what clients are told instead (1-500 characters)')
    .option('--json', 'print the row as JSON')
    .action(async (id: string, options: { replacement?: string; message?: string; json?: true }) => {
      if ((options.replacement === undefined) === (options.message === undefined)) {
        throw new MoongateError('bad_request', 'give either --replacement <id> or --message <text>');
      }
      await withStore(async (store, config) => {
        const how = options.replacement !== undefined ? { replacement: options.replacement } : { message: options.message ?? '' };
        const retired = await new ModelStore(store.db).retire(id, how);
        await announceChange(config, { kind: 'model', id });
        await printRow(store.db, retired, options.json === true, 'Retired');
      });
    });
}
