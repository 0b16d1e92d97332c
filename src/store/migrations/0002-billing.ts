/**
 * Billing: wallets (an application's quota, a person's global balance) with what is held
 * on them right now, the live holds (recorded on PostgreSQL), the server process instances,
 * per-model prices, the usage log, per-credential limits and the once-per-person free
 * quota marker. Amounts are integer micro-units in `bigint` columns (docs/billing.md).
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('wallets')
    // The application id for a quota wallet, the person id for the global balance: the
    // caller already knows both, so a hold needs no lookup first.
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('kind', 'text', (col) => col.notNull())
    .addColumn('person_id', 'text', (col) => col.notNull().references('people.id'))
    .addColumn('amount', 'bigint', (col) => col.notNull())
    .addColumn('held', 'bigint', (col) => col.notNull())
    // Quota wallets only: whether service credentials may go on to the global balance.
    .addColumn('fallback', 'text', (col) => col.notNull())
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addCheckConstraint('wallets_held_check', sql`held >= 0`)
    .execute();
  await db.schema.createIndex('wallets_person_id_index').on('wallets').column('person_id').execute();

  await db.schema
    .createTable('instances')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('heartbeat_at', 'bigint', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('holds')
    .addColumn('trace_id', 'text', (col) => col.primaryKey())
    .addColumn('wallet_id', 'text', (col) => col.notNull())
    .addColumn('amount', 'bigint', (col) => col.notNull())
    .addColumn('instance_id', 'text', (col) => col.notNull())
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .execute();
  await db.schema.createIndex('holds_instance_id_index').on('holds').column('instance_id').execute();

  await db.schema
    .createTable('prices')
    .addColumn('model', 'text', (col) => col.primaryKey())
    .addColumn('cached_input', 'bigint', (col) => col.notNull())
    .addColumn('input', 'bigint', (col) => col.notNull())
    .addColumn('output', 'bigint', (col) => col.notNull())
    .addColumn('updated_at', 'bigint', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('usage')
    .addColumn('trace_id', 'text', (col) => col.primaryKey())
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addColumn('person_id', 'text', (col) => col.notNull())
    .addColumn('credential_id', 'text', (col) => col.notNull())
    .addColumn('service_id', 'text', (col) => col.notNull())
    .addColumn('wallet_id', 'text')
    .addColumn('model', 'text', (col) => col.notNull())
    .addColumn('stream', 'text', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('error_code', 'text')
    .addColumn('prompt_tokens', 'bigint', (col) => col.notNull())
    .addColumn('cached_tokens', 'bigint', (col) => col.notNull())
    .addColumn('completion_tokens', 'bigint', (col) => col.notNull())
    .addColumn('cost', 'bigint', (col) => col.notNull())
    .addColumn('duration_ms', 'bigint', (col) => col.notNull())
    .addColumn('ttft_ms', 'bigint')
    .addColumn('channel', 'text')
    .execute();
  // The account pages and the CLI list a person's rows newest first; pruning goes by time.
  await db.schema.createIndex('usage_person_time_index').on('usage').columns(['person_id', 'created_at']).execute();
  await db.schema.createIndex('usage_created_at_index').on('usage').column('created_at').execute();

  await db.schema.alterTable('credentials').addColumn('rps_limit', 'bigint').execute();
  await db.schema.alterTable('credentials').addColumn('concurrency_limit', 'bigint').execute();
  await db.schema.alterTable('people').addColumn('free_quota_granted_at', 'bigint').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('people').dropColumn('free_quota_granted_at').execute();
  await db.schema.alterTable('credentials').dropColumn('concurrency_limit').execute();
  await db.schema.alterTable('credentials').dropColumn('rps_limit').execute();
  for (const table of ['usage', 'prices', 'holds', 'instances', 'wallets']) await db.schema.dropTable(table).execute();
}
