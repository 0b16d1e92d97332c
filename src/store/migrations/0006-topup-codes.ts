/**
 * Top-up codes (docs/billing.md, "Top-up codes"): an operator prints codes worth an
 * amount; a person redeems one, once, into their global balance. Only the SHA-256 of a
 * code is stored. `redeemed_at` is set by the one conditional update that redeems a code,
 * in the same transaction as the credit.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('topup_codes')
    .addColumn('id', 'text', (col) => col.primaryKey())
    // The unique index is also the lookup index of a redemption.
    .addColumn('code_hash', 'text', (col) => col.notNull().unique())
    .addColumn('amount', 'bigint', (col) => col.notNull())
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    // The admin who made it in the console; null for the CLI.
    .addColumn('created_by', 'text', (col) => col.references('people.id'))
    .addColumn('expires_at', 'bigint')
    .addColumn('redeemed_at', 'bigint')
    .addColumn('redeemed_by', 'text', (col) => col.references('people.id'))
    .execute();
  await db.schema.createIndex('topup_codes_created_at_index').on('topup_codes').column('created_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('topup_codes').execute();
}
