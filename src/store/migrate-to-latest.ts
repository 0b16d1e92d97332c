import { Migrator, sql, type Kysely } from 'kysely';
import type { Database } from './database.js';
import { migrationProvider } from './migrations/index.js';

export type StoreDialect = 'sqlite' | 'postgres';

/**
 * Brings the schema up to date; safe when several processes start at once.
 *
 * PostgreSQL: Kysely's migrator serialises runners with an advisory lock and runs the
 * migrations in one transaction. Its bookkeeping tables are pinned to the connection's
 * current schema, because without an explicit schema Kysely checks for them in every
 * schema of the database and skips creating them when another schema has them.
 *
 * SQLite: Kysely takes no lock and no transaction there (it assumes one connection),
 * so a second process (the CLI next to the server) could run a migration twice or see
 * half of one. `begin immediate` takes the database's write lock up front (waiting up
 * to busy_timeout) and makes the whole run atomic; SQLite's DDL is transactional.
 */
export async function migrateToLatest(db: Kysely<Database>, dialect: StoreDialect): Promise<void> {
  if (dialect === 'postgres') {
    const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
    const schema = rows[0]?.schema;
    if (schema === null || schema === undefined) {
      throw new Error('PostgreSQL has no current schema: the search_path names no existing schema');
    }
    await run(new Migrator({ db, provider: migrationProvider, migrationTableSchema: schema }));
    return;
  }
  await sql`begin immediate`.execute(db);
  try {
    await run(new Migrator({ db, provider: migrationProvider }));
  } catch (error) {
    await sql`rollback`.execute(db);
    throw error;
  }
  await sql`commit`.execute(db);
}

async function run(migrator: Migrator): Promise<void> {
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((result) => result.status === 'Error')?.migrationName ?? 'run';
    const detail = error instanceof Error ? error.message : String(error);
    throw new Error(`database migration ${failed} failed: ${detail}`, { cause: error });
  }
}
