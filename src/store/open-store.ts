/**
 * Opens the one database: SQLite under the data directory by default (no other
 * service needed), PostgreSQL when DATABASE_URL is set (several processes). Both come
 * out migrated and seeded, behind the same Kysely type.
 */
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import type { Database } from './database.js';
import { migrateToLatest, type StoreDialect } from './migrate-to-latest.js';
import { seedModels } from './model-rows.js';
import { seedServices } from './seed-services.js';
import { withStatementCache } from './statement-cache.js';

export interface Store {
  db: Kysely<Database>;
  dialect: StoreDialect;
  /**
   * SQLite: the one connection `db` runs on, for the few reads that must not wait for a turn
   * of the event loop (the hold's wallet read, billing/hold-ledger.ts). better-sqlite3 is
   * synchronous, so such a read runs whole between two of Kysely's statements. PostgreSQL: null.
   */
  sqlite: SqliteConnection | null;
  close(): Promise<void>;
}

export type SqliteConnection = SqliteDatabase.Database;

export interface OpenStoreOptions {
  dataDir: string;
  databaseUrl?: string | undefined;
  /**
   * Called when PostgreSQL drops a pooled connection (a server restart, say).
   * The pool already discards the broken client and the next query reconnects; the
   * default reports it on stderr.
   */
  onConnectionError?: ((error: Error) => void) | undefined;
}

export const SQLITE_FILE_NAME = 'moongate.db';

export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const { db, dialect, sqlite } =
    options.databaseUrl === undefined
      ? sqliteStore(openSqlite(options.dataDir))
      : { db: openPostgres(options.databaseUrl, options.onConnectionError ?? reportConnectionError), dialect: 'postgres' as const, sqlite: null };
  try {
    await migrateToLatest(db, dialect);
    await seedServices(db);
    await seedModels(db);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return { db, dialect, sqlite, close: () => db.destroy() };
}

function sqliteStore(sqlite: SqliteConnection) {
  return { db: new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) }), dialect: 'sqlite' as const, sqlite };
}

function openSqlite(dataDir: string): SqliteConnection {
  mkdirSync(dataDir, { recursive: true });
  const database = new SqliteDatabase(join(dataDir, SQLITE_FILE_NAME));
  // busy_timeout first: it makes a second process (the CLI beside the server) wait for a
  // lock instead of failing, and switching a new file to WAL already takes one. WAL lets
  // readers run beside the one writer; NORMAL sync is durable across process crashes in
  // WAL mode (only an OS crash can lose the last commits); SQLite leaves foreign keys off
  // unless asked, per connection.
  database.pragma('busy_timeout = 5000');
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('foreign_keys = ON');
  return database;
}

function openPostgres(connectionString: string, onConnectionError: (error: Error) => void): Kysely<Database> {
  // pg is loaded here, not at the top: the embedded default (SQLite) never loads it, which
  // keeps its modules out of the process's memory (docs/operations.md, "Memory"). It is
  // CommonJS, so `require` loads it synchronously.
  const pg = createRequire(import.meta.url)('pg') as typeof import('pg');
  // Timestamps (and, later, amounts) are int8 columns. pg returns int8 as a string, since it
  // may exceed 2^53; ours never do, so this pool, and only this pool (no global
  // pg.types.setTypeParser), reads them as numbers, refusing any that would lose precision.
  const types = new pg.TypeOverrides();
  types.setTypeParser(pg.types.builtins.INT8, parseInt8);
  const pool = new pg.Pool({ connectionString, types });
  // An idle client's error is emitted on the pool; with no listener it would crash the process.
  pool.on('error', onConnectionError);
  // A client in use (checked out, between two statements of a transaction) emits its error on
  // itself, where pg-pool listens only while it is idle: without this, PostgreSQL going away
  // mid-transaction would crash the process. The statement in flight fails on its own, and the
  // broken client is dropped when it is released.
  pool.on('connect', (client) => {
    client.on('error', onConnectionError);
  });
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

function parseInt8(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`int8 value ${text} does not fit a JavaScript number exactly`);
  }
  return value;
}

function reportConnectionError(error: Error): void {
  process.stderr.write(`moongate: a PostgreSQL connection failed: ${error.message}\n`);
}
