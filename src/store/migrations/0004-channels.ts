/**
 * Channels added with `moongate channel add` (docs/channels.md). A channel's key is never
 * stored: only the name of the environment variable that holds it (`api_key_env`),
 * resolved when the server starts. `models` is a JSON object (public name → upstream name)
 * and `timeouts` a JSON object or null, as text, which both dialects store the same way.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('channels')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('name', 'text', (col) => col.notNull().unique())
    .addColumn('kind', 'text', (col) => col.notNull())
    .addColumn('base_url', 'text')
    .addColumn('api_key_env', 'text')
    .addColumn('models', 'text', (col) => col.notNull())
    .addColumn('priority', 'integer', (col) => col.notNull())
    .addColumn('weight', 'integer', (col) => col.notNull())
    .addColumn('max_concurrency', 'integer', (col) => col.notNull())
    .addColumn('timeouts', 'text')
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('channels').execute();
}
