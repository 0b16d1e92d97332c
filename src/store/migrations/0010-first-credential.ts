/**
 * Acquire issues at most one first credential per person and service, whichever replica
 * the click reaches (issue 17): the application row records when its first credential was
 * issued, and Acquire claims it with one conditional update (`where first_credential_at is
 * null`). PostgreSQL's row lock makes a second, simultaneous claim re-read the row and find
 * it taken; SQLite runs one writer at a time. A per-process mutex did this before, and two
 * replicas each had their own.
 *
 * Applications that already have a credential are marked with their oldest one's time, so
 * Acquire keeps answering them with `credential: null`.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('applications').addColumn('first_credential_at', 'bigint').execute();
  await sql`update applications set first_credential_at = (select min(c.created_at) from credentials c where c.application_id = applications.id)`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('applications').dropColumn('first_credential_at').execute();
}
