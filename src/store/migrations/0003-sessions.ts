/**
 * Console logins: a password hash on people (null for people the CLI made, who have
 * none) and the sessions table. A session row stores the SHA-256 of the session id,
 * never the id, so a leaked database cannot be replayed as a login.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('people').addColumn('password_hash', 'text').execute();

  await db.schema
    .createTable('sessions')
    .addColumn('id', 'text', (col) => col.primaryKey())
    // The unique index is also the lookup index of every console request.
    .addColumn('token_hash', 'text', (col) => col.notNull().unique())
    .addColumn('person_id', 'text', (col) => col.notNull().references('people.id'))
    .addColumn('csrf_token', 'text', (col) => col.notNull())
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addColumn('expires_at', 'bigint', (col) => col.notNull())
    .addColumn('last_seen_at', 'bigint', (col) => col.notNull())
    .addColumn('user_agent', 'text')
    .execute();

  // "Log out everywhere" on a password change deletes by person.
  await db.schema.createIndex('sessions_person_id_index').on('sessions').column('person_id').execute();
  // The hourly sweep of expired sessions (session-store.ts).
  await db.schema.createIndex('sessions_expires_at_index').on('sessions').column('expires_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('sessions').execute();
  await db.schema.alterTable('people').dropColumn('password_hash').execute();
}
