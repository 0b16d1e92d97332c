/**
 * The request fields a stored channel passes through to its upstream as the client sent
 * them (`moongate channel add --passthrough chat_template_kwargs`; docs/requests.md,
 * "Fields moongate does not know"): a JSON array of field names, as text; null for none.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('channels').addColumn('passthrough', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('channels').dropColumn('passthrough').execute();
}
