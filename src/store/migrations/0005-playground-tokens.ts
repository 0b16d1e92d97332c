/**
 * Playground tokens: short-lived API tokens the console mints for one of the person's
 * credentials, bound to the console session that asked (docs/console-api.md, "The
 * playground"). Like every token, only its SHA-256 is stored. A token dies with its
 * session: the foreign key cascades a logout (or a password change) to its tokens.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('playground_tokens')
    // The primary key is also the lookup index of authenticate() for a playground token.
    .addColumn('token_hash', 'text', (col) => col.primaryKey())
    .addColumn('credential_id', 'text', (col) => col.notNull().references('credentials.id'))
    .addColumn('person_id', 'text', (col) => col.notNull().references('people.id'))
    .addColumn('session_id', 'text', (col) => col.notNull().references('sessions.id').onDelete('cascade'))
    .addColumn('expires_at', 'bigint', (col) => col.notNull())
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .execute();
  // Expired tokens are deleted by time; a session's tokens go with it (the cascade looks them up by session).
  await db.schema.createIndex('playground_tokens_expires_at_index').on('playground_tokens').column('expires_at').execute();
  await db.schema.createIndex('playground_tokens_session_id_index').on('playground_tokens').column('session_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('playground_tokens').execute();
}
