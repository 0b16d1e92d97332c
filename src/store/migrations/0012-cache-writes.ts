/**
 * Cache writes (issue 18): Moonshot bills the prompt tokens it writes to its context cache
 * at a price of their own, so a price gains `cache_write` (micro-units per 1M tokens) and a
 * usage row gains `cache_write_tokens`.
 *
 * An existing price's cache-write price becomes its input price: before this, a cache write
 * was billed as an uncached prompt token, so every bill stays what it was until the operator
 * sets a price (`moongate price set --cache-write`). Existing usage rows wrote no cache: 0.
 * Both statements are plain ALTER/UPDATE, the same on SQLite and PostgreSQL.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('prices')
    .addColumn('cache_write', 'bigint', (col) => col.notNull().defaultTo(0))
    .execute();
  await sql`update prices set cache_write = input`.execute(db);
  await db.schema
    .alterTable('usage')
    .addColumn('cache_write_tokens', 'bigint', (col) => col.notNull().defaultTo(0))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('usage').dropColumn('cache_write_tokens').execute();
  await db.schema.alterTable('prices').dropColumn('cache_write').execute();
}
