/**
 * Catalogue rows to models and back, and the seed: the built-in rows (the seed's seven,
 * active, then Moonshot's current models, off) are inserted at open when missing, so a new
 * release can ship a row, and an operator's edits to an existing row are kept.
 */
import type { Kysely, Selectable, Transaction } from 'kysely';
import {
  BUILT_IN_MODELS,
  INPUT_KINDS,
  MODEL_STATES,
  REASONING_EFFORTS,
  SAMPLING_PARAMETERS,
  type InputKind,
  type KimiModel,
  type ModelState,
  type ReasoningEffort,
  type SamplingParameter,
  type TemperatureRule,
  type ThinkingMode,
} from '../contract/models.js';
import type { Database, ModelsTable } from './database.js';

export type ModelRow = Selectable<ModelsTable>;

function jsonList<T extends string>(text: string, allowed: readonly T[]): T[] {
  const value: unknown = JSON.parse(text);
  if (!Array.isArray(value)) return [];
  return value.filter((item): item is T => typeof item === 'string' && (allowed as readonly string[]).includes(item));
}

export function rowToModel(row: ModelRow): KimiModel {
  const thinkingMode = row.thinking_mode as ThinkingMode;
  const state = (MODEL_STATES as readonly string[]).includes(row.state) ? (row.state as ModelState) : 'off';
  return Object.freeze({
    id: row.id,
    displayName: row.display_name,
    thinking: thinkingMode !== 'never',
    thinkingMode,
    efforts: jsonList<ReasoningEffort>(row.efforts, REASONING_EFFORTS),
    inputs: jsonList<InputKind>(row.inputs, INPUT_KINDS),
    remoteMedia: row.remote_media === 'true',
    contextTokens: row.context_tokens,
    defaultMaxTokens: row.default_max_tokens,
    maxCompletionTokens: row.max_completion_tokens,
    temperature: row.temperature as TemperatureRule,
    fixedSampling: jsonList<SamplingParameter>(row.fixed_sampling, SAMPLING_PARAMETERS),
    state,
    ...(row.replacement === null ? {} : { replacement: row.replacement }),
    ...(row.retired_message === null ? {} : { retiredMessage: row.retired_message }),
  });
}

export function modelToRow(model: KimiModel, position: number, now: number): ModelRow {
  return {
    id: model.id,
    display_name: model.displayName,
    thinking_mode: model.thinkingMode,
    efforts: JSON.stringify(model.efforts),
    inputs: JSON.stringify(model.inputs),
    remote_media: model.remoteMedia ? 'true' : 'false',
    context_tokens: model.contextTokens,
    default_max_tokens: model.defaultMaxTokens,
    max_completion_tokens: model.maxCompletionTokens,
    temperature: model.temperature,
    fixed_sampling: JSON.stringify(model.fixedSampling),
    state: model.state,
    replacement: model.replacement ?? null,
    retired_message: model.retiredMessage ?? null,
    position,
    updated_at: now,
  };
}

/** Every row, in catalogue order. */
export async function readModelRows(db: Kysely<Database> | Transaction<Database>): Promise<KimiModel[]> {
  const rows = await db.selectFrom('models').selectAll().orderBy('position').orderBy('id').execute();
  return rows.map(rowToModel);
}

/** The version every change bumps (0011-models.ts). */
export async function readCatalogueVersion(db: Kysely<Database>): Promise<number> {
  const row = await db.selectFrom('catalogue_versions').select('version').where('name', '=', 'models').executeTakeFirst();
  return row?.version ?? 0;
}

export async function bumpCatalogueVersion(trx: Transaction<Database>): Promise<void> {
  await trx
    .updateTable('catalogue_versions')
    .set((eb) => ({ version: eb('version', '+', 1) }))
    .where('name', '=', 'models')
    .execute();
}

/** Inserts the built-in rows that are missing (positions 0..n in built-in order); existing rows are kept. */
export async function seedModels(db: Kysely<Database>, now: number = Date.now()): Promise<void> {
  const present = new Set((await db.selectFrom('models').select('id').execute()).map((r) => r.id));
  const missing = BUILT_IN_MODELS.map((m, i) => [m, i] as const).filter(([m]) => !present.has(m.id));
  if (missing.length === 0) return;
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('models')
      .values(missing.map(([m, i]) => modelToRow(m, i, now)))
      .onConflict((conflict) => conflict.column('id').doNothing())
      .execute();
    await bumpCatalogueVersion(trx);
  });
}
