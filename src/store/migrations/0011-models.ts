/**
 * The model catalogue (issue 18: models as data): one row per model with what the gateway
 * must know about it (KimiModel in contract/models.ts), and a version counter that every
 * change bumps in the same transaction, so a server polls one row to learn that the CLI
 * (another process, perhaps without Redis) changed the catalogue. Lists are JSON text and
 * booleans 'true'/'false', portable across both dialects. The rows themselves are seeded
 * at open (store/seed-models.ts), like the prices; an operator's edits are kept.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('models')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('display_name', 'text', (col) => col.notNull())
    .addColumn('thinking_mode', 'text', (col) => col.notNull())
    .addColumn('efforts', 'text', (col) => col.notNull())
    .addColumn('inputs', 'text', (col) => col.notNull())
    .addColumn('remote_media', 'text', (col) => col.notNull())
    .addColumn('context_tokens', 'bigint', (col) => col.notNull())
    .addColumn('default_max_tokens', 'bigint', (col) => col.notNull())
    .addColumn('max_completion_tokens', 'bigint', (col) => col.notNull())
    .addColumn('temperature', 'text', (col) => col.notNull())
    .addColumn('fixed_sampling', 'text', (col) => col.notNull())
    .addColumn('state', 'text', (col) => col.notNull())
    .addColumn('replacement', 'text')
    .addColumn('retired_message', 'text')
    // The order /v1/models lists them in: the seed's enum order first, then rows as added.
    .addColumn('position', 'bigint', (col) => col.notNull())
    .addColumn('updated_at', 'bigint', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('catalogue_versions')
    .addColumn('name', 'text', (col) => col.primaryKey())
    .addColumn('version', 'bigint', (col) => col.notNull())
    .execute();
  await db.insertInto('catalogue_versions' as never).values({ name: 'models', version: 0 } as never).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('catalogue_versions').execute();
  await db.schema.dropTable('models').execute();
}
