/**
 * Prepared statements kept for reuse. Kysely's SQLite driver prepares every query it runs;
 * preparing is a parse and plan in SQLite, and was a tenth of the gateway's time per request
 * (authentication, the hold and settlement run the same few statements again and again).
 * The driver runs one query at a time on its one connection, so a statement is never in
 * use twice at once; SQLite re-prepares a statement by itself after a schema change.
 */
import type { SqliteDatabase, SqliteStatement } from 'kysely';

/** Enough for every distinct statement moongate runs, with room for queries built from lists. */
const MAX_STATEMENTS = 512;

export function withStatementCache(database: SqliteDatabase, max = MAX_STATEMENTS): SqliteDatabase {
  const statements = new Map<string, SqliteStatement>();
  return {
    close: () => {
      statements.clear();
      database.close();
    },
    prepare: (sql) => {
      let statement = statements.get(sql);
      if (statement === undefined) {
        statement = database.prepare(sql);
        // Oldest first out: a Map iterates in insertion order.
        if (statements.size >= max) statements.delete(statements.keys().next().value as string);
        statements.set(sql, statement);
      }
      return statement;
    },
  };
}
