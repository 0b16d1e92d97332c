/**
 * Per-person limits (issue 15, item 6; docs/security.md, "Per-person limits"): the
 * operator's overrides of how many credentials a person may hold and how many requests they
 * may make per second and run at once across all their credentials. Null is the default
 * from the environment (PERSON_CREDENTIALS_LIMIT, PERSON_RPS_LIMIT, PERSON_CONCURRENCY_LIMIT).
 */
import type { Kysely } from 'kysely';

const COLUMNS = ['credentials_limit', 'rps_limit', 'concurrency_limit'] as const;

export async function up(db: Kysely<unknown>): Promise<void> {
  // One column per statement: SQLite's ALTER TABLE adds one at a time.
  for (const column of COLUMNS) await db.schema.alterTable('people').addColumn(column, 'integer').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const column of COLUMNS) await db.schema.alterTable('people').dropColumn(column).execute();
}
