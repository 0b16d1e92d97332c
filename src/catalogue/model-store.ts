/**
 * Changes to the model catalogue, shared by `moongate model` and the admin API: every change
 * is validated as a whole row (limits that fit together, a retired model with exactly one of
 * a replacement or a message, a replacement that is served, a served model that has a price),
 * written with the catalogue version bumped in the same transaction, so every server notices
 * it (model-catalogue.ts). Errors are MoongateErrors that say what to fix.
 */
import type { Kysely, Transaction } from 'kysely';
import {
  INPUT_KINDS,
  MODEL_ID_PATTERN,
  MODEL_STATES,
  MoongateError,
  REASONING_EFFORTS,
  SAMPLING_PARAMETERS,
  isServed,
  type KimiModel,
} from '../contract/index.js';
import type { Database } from '../store/database.js';
import { bumpCatalogueVersion, modelToRow, readModelRows, rowToModel } from '../store/model-rows.js';

/** Fields an operator may change on a row (`thinking` follows thinkingMode). */
export type ModelPatch = Partial<Omit<KimiModel, 'id' | 'thinking'>>;

const MAX_TOKENS = 100_000_000;
const THINKING_MODES = ['never', 'always', 'switchable'] as const;
const TEMPERATURE_RULES = ['fixed-one', 'clamp-zero-one'] as const;

function refuse(message: string): never {
  throw new MoongateError('bad_request', message);
}

function checkTokens(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1 || value > MAX_TOKENS) refuse(`${name} must be a whole number of tokens from 1 to ${MAX_TOKENS}`);
}

function checkSubset(name: string, values: readonly string[], allowed: readonly string[]): void {
  const wrong = values.filter((v) => !allowed.includes(v));
  if (wrong.length > 0) refuse(`${name} may only name ${allowed.join(', ')} (not ${wrong.join(', ')})`);
  if (new Set(values).size !== values.length) refuse(`${name} names a value twice`);
}

/** The checks that need only the row itself. */
export function checkModel(model: KimiModel): void {
  if (!MODEL_ID_PATTERN.test(model.id)) refuse('a model id is 1-100 letters, digits, dots, dashes, underscores, colons or slashes, starting with a letter or digit');
  if (model.displayName.trim() === '' || model.displayName.length > 100) refuse('a display name is 1-100 characters');
  if (!(THINKING_MODES as readonly string[]).includes(model.thinkingMode)) refuse(`thinking must be one of ${THINKING_MODES.join(', ')}`);
  if (!(TEMPERATURE_RULES as readonly string[]).includes(model.temperature)) refuse(`temperature must be one of ${TEMPERATURE_RULES.join(', ')}`);
  if (!(MODEL_STATES as readonly string[]).includes(model.state)) refuse(`state must be one of ${MODEL_STATES.join(', ')}`);
  checkSubset('efforts', model.efforts, REASONING_EFFORTS);
  checkSubset('inputs', model.inputs, INPUT_KINDS);
  checkSubset('fixed sampling', model.fixedSampling, SAMPLING_PARAMETERS);
  if (!model.inputs.includes('text')) refuse('inputs must include text');
  if (model.efforts.length > 0 && model.thinkingMode === 'never') refuse('a model that never thinks takes no reasoning efforts');
  checkTokens('the context', model.contextTokens);
  checkTokens('the default completion', model.defaultMaxTokens);
  checkTokens('the largest completion', model.maxCompletionTokens);
  if (model.maxCompletionTokens > model.contextTokens) refuse('the largest completion cannot exceed the context');
  if (model.defaultMaxTokens > model.maxCompletionTokens) refuse('the default completion cannot exceed the largest completion');
  if (model.state === 'retired') {
    if ((model.replacement === undefined) === (model.retiredMessage === undefined)) refuse('a retired model has either a replacement or a message, not both');
    if (model.replacement === model.id) refuse('a model cannot be its own replacement');
    if (model.retiredMessage !== undefined && (model.retiredMessage.trim() === '' || model.retiredMessage.length > 500)) {
      refuse('a retirement message is 1-500 characters');
    }
  } else if (model.replacement !== undefined || model.retiredMessage !== undefined) {
    refuse('only a retired model has a replacement or a message');
  }
}

/** The checks against the other rows and the prices, inside the writing transaction. */
async function checkAgainstCatalogue(trx: Transaction<Database>, model: KimiModel): Promise<void> {
  const rows = await readModelRows(trx);
  if (model.replacement !== undefined) {
    const replacement = rows.find((r) => r.id === model.replacement);
    if (replacement === undefined) refuse(`the replacement ${model.replacement} is not in the catalogue`);
    if (!isServed(replacement)) refuse(`the replacement ${replacement.id} is ${replacement.state}: a replacement must be active or hidden`);
  }
  if (!isServed(model)) {
    const dependants = rows.filter((r) => r.replacement === model.id).map((r) => r.id);
    if (dependants.length > 0) refuse(`${model.id} is the replacement of ${dependants.join(', ')}: give those another replacement or a message first`);
  }
  if (isServed(model)) {
    const price = await trx.selectFrom('prices').select('model').where('model', '=', model.id).executeTakeFirst();
    if (price === undefined) refuse(`${model.id} has no price: set its prices before it is served`);
  }
}

export class ModelStore {
  constructor(private readonly db: Kysely<Database>) {}

  list(): Promise<KimiModel[]> {
    return readModelRows(this.db);
  }

  async get(id: string): Promise<KimiModel | undefined> {
    const row = await this.db.selectFrom('models').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : rowToModel(row);
  }

  /**
   * Adds a row; `beforeCheck` runs in the same transaction once the row is written and
   * before the checks against the catalogue (the CLI writes the new model's prices there,
   * so a model added as active comes with its price).
   */
  async add(model: KimiModel, beforeCheck?: (trx: Transaction<Database>) => Promise<void>, now: number = Date.now()): Promise<KimiModel> {
    checkModel(model);
    return this.db.transaction().execute(async (trx) => {
      const existing = await trx.selectFrom('models').select('id').where('id', '=', model.id).executeTakeFirst();
      if (existing !== undefined) refuse(`${model.id} is already in the catalogue: change it with set`);
      const last = await trx.selectFrom('models').select((eb) => eb.fn.max('position').as('position')).executeTakeFirst();
      await trx.insertInto('models').values(modelToRow(model, Number(last?.position ?? -1) + 1, now)).execute();
      // Written, then checked in the same transaction: a refusal leaves nothing behind.
      await beforeCheck?.(trx);
      await checkAgainstCatalogue(trx, model);
      await bumpCatalogueVersion(trx);
      return model;
    });
  }

  /** Changes a row; a state other than retired drops the replacement and the message it had. */
  async update(id: string, patch: ModelPatch, beforeCheck?: (trx: Transaction<Database>) => Promise<void>, now: number = Date.now()): Promise<KimiModel> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('models').selectAll().where('id', '=', id).executeTakeFirst();
      if (row === undefined) throw new MoongateError('model_not_found', `${id} is not in the catalogue`);
      const current = rowToModel(row);
      const state = patch.state ?? current.state;
      // Leaving 'retired' drops the old replacement or message; one given in the patch stays, to be refused.
      const next: KimiModel = {
        ...current,
        ...(state === 'retired' ? {} : { replacement: undefined, retiredMessage: undefined }),
        ...patch,
        id,
        thinking: (patch.thinkingMode ?? current.thinkingMode) !== 'never',
      };
      const clean = Object.fromEntries(Object.entries(next).filter(([, v]) => v !== undefined)) as unknown as KimiModel;
      checkModel(clean);
      await trx.updateTable('models').set(modelToRow(clean, row.position, now)).where('id', '=', id).execute();
      await beforeCheck?.(trx);
      await checkAgainstCatalogue(trx, clean);
      await bumpCatalogueVersion(trx);
      return clean;
    });
  }

  /** Retires a row: its requests go to `replacement`, or are answered with `message`. */
  retire(id: string, how: { replacement: string } | { message: string }): Promise<KimiModel> {
    return this.update(
      id,
      'replacement' in how
        ? { state: 'retired', replacement: how.replacement, retiredMessage: undefined }
        : { state: 'retired', retiredMessage: how.message, replacement: undefined },
    );
  }
}
