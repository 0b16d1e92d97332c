/**
 * The usage log keyed by time: primary key (created_at, trace_id) instead of trace_id.
 *
 * Trace ids are random (UUID v4, SPEC.md), so an index on them takes each new row at a
 * random place: every settlement touched a random page of an index that grows with the
 * log, on SQLite about 30 µs a row at 200,000 rows against 10 µs for rows that arrive in
 * order (mostly the log writes of those scattered pages), and worse as the log grows. Rows
 * arrive roughly in created_at order, so this key takes them at its end. It is still unique
 * for every row ever written (a trace id is), it still refuses the same usage row twice,
 * and it serves what the old created_at index did (pruning and time ranges), so that
 * index goes. The person's pages keep their (person_id, created_at) index.
 *
 * PostgreSQL changes the key in place (no copy: the new key's index is built by one scan,
 * with the table locked meanwhile). SQLite cannot change a primary key, so there the table
 * is rebuilt inside the migration's transaction.
 */
import { sql, type Kysely } from 'kysely';

const COLUMNS = [
  'trace_id',
  'created_at',
  'person_id',
  'credential_id',
  'service_id',
  'wallet_id',
  'model',
  'stream',
  'status',
  'error_code',
  'prompt_tokens',
  'cached_tokens',
  'completion_tokens',
  'cost',
  'duration_ms',
  'ttft_ms',
  'channel',
];

async function rebuild(db: Kysely<unknown>, key: 'time' | 'trace'): Promise<void> {
  let table = db.schema
    .createTable('usage_rebuilt')
    .addColumn('trace_id', 'text', (col) => (key === 'trace' ? col.primaryKey() : col.notNull()))
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
    .addColumn('channel', 'text');
  if (key === 'time') table = table.addPrimaryKeyConstraint('usage_time_key', ['created_at', 'trace_id']);
  await table.execute();
  const columns = sql.join(COLUMNS.map((column) => sql.ref(column)));
  await sql`insert into usage_rebuilt (${columns}) select ${columns} from usage`.execute(db);
  await db.schema.dropTable('usage').execute();
  await db.schema.alterTable('usage_rebuilt').renameTo('usage').execute();
  await db.schema.createIndex('usage_person_time_index').on('usage').columns(['person_id', 'created_at']).execute();
  if (key === 'trace') await db.schema.createIndex('usage_created_at_index').on('usage').column('created_at').execute();
}

/**
 * Whether the database is PostgreSQL (a migration is not told). SQLite has no
 * current_setting(); a statement that fails to prepare there leaves the transaction as it was.
 */
async function onPostgres(db: Kysely<unknown>): Promise<boolean> {
  try {
    await sql`select current_setting('server_version_num')`.execute(db);
    return true;
  } catch {
    return false;
  }
}

export async function up(db: Kysely<unknown>): Promise<void> {
  if (!(await onPostgres(db))) return rebuild(db, 'time');
  // 0002 made the key with the column (`primary key`), which PostgreSQL names usage_pkey.
  await sql`alter table usage drop constraint usage_pkey, add constraint usage_time_key primary key (created_at, trace_id)`.execute(db);
  await db.schema.dropIndex('usage_created_at_index').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (!(await onPostgres(db))) return rebuild(db, 'trace');
  await sql`alter table usage drop constraint usage_time_key, add constraint usage_pkey primary key (trace_id)`.execute(db);
  await db.schema.createIndex('usage_created_at_index').on('usage').column('created_at').execute();
}
