/**
 * People, services, their applications and credentials.
 *
 * Migrations take an untyped `Kysely<unknown>`: they describe the schema as it was
 * when they were written, which the current `Database` type no longer matches once
 * later migrations change it. Column types are the portable subset: `text`, and
 * `bigint` for millisecond timestamps (an INTEGER column in SQLite, int8 in PostgreSQL).
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('people')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('email', 'text', (col) => col.notNull().unique())
    .addColumn('role', 'text', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('services')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('slug', 'text', (col) => col.notNull().unique())
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('applications')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('person_id', 'text', (col) => col.notNull().references('people.id'))
    .addColumn('service_id', 'text', (col) => col.notNull().references('services.id'))
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    // One application per person and service; ensureApplication relies on it to be idempotent.
    .addUniqueConstraint('applications_person_service_unique', ['person_id', 'service_id'])
    .execute();

  await db.schema
    .createTable('credentials')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('person_id', 'text', (col) => col.notNull().references('people.id'))
    .addColumn('service_id', 'text', (col) => col.references('services.id'))
    .addColumn('application_id', 'text', (col) => col.references('applications.id'))
    .addColumn('name', 'text', (col) => col.notNull())
    // The unique index is also the lookup index of authenticate(), the hot path.
    .addColumn('token_hash', 'text', (col) => col.notNull().unique())
    .addColumn('token_prefix', 'text', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('expires_at', 'bigint')
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addColumn('revoked_at', 'bigint')
    // A credential is either global (neither) or bound to one service through its application (both).
    .addCheckConstraint('credentials_scope_check', sql`(service_id is null) = (application_id is null)`)
    .execute();

  await db.schema.createIndex('credentials_person_id_index').on('credentials').column('person_id').execute();
  await db.schema.createIndex('applications_service_id_index').on('applications').column('service_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('credentials').execute();
  await db.schema.dropTable('applications').execute();
  await db.schema.dropTable('services').execute();
  await db.schema.dropTable('people').execute();
}
