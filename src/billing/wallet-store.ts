/**
 * Wallets: an application's quota (id = the application id) and a person's global balance
 * (id = the person id). Holds and settlement change them elsewhere; this file credits them.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../store/database.js';

/** Adds to (or, with a negative amount, takes from) a person's global balance, creating it. */
export async function addBalance(db: Kysely<Database>, personId: string, amount: number, now: number = Date.now()): Promise<void> {
  if (!Number.isSafeInteger(amount)) throw new RangeError('amounts are whole micro-units');
  await db
    .insertInto('wallets')
    .values({ id: personId, kind: 'balance', person_id: personId, amount, held: 0, fallback: 'none', created_at: now })
    .onConflict((conflict) => conflict.column('id').doUpdateSet((eb) => ({ amount: eb('wallets.amount', '+', amount) })))
    .execute();
}

/**
 * Gives an application its quota wallet, and the person's free quota when they have never
 * had it: the marker on the person row is set by a conditional update, so the grant happens
 * once per person however many applications (or concurrent calls) there are.
 */
export async function openQuotaWallet(
  trx: Transaction<Database>,
  applicationId: string,
  personId: string,
  freeQuota: number,
  now: number,
): Promise<void> {
  await trx
    .insertInto('wallets')
    .values({ id: applicationId, kind: 'quota', person_id: personId, amount: 0, held: 0, fallback: 'balance', created_at: now })
    .onConflict((conflict) => conflict.column('id').doNothing())
    .execute();
  const granted = await trx
    .updateTable('people')
    .set({ free_quota_granted_at: now })
    .where('id', '=', personId)
    .where('free_quota_granted_at', 'is', null)
    .executeTakeFirst();
  if (granted.numUpdatedRows > 0n && freeQuota > 0) {
    await trx
      .updateTable('wallets')
      .set((eb) => ({ amount: eb('amount', '+', freeQuota) }))
      .where('id', '=', applicationId)
      .execute();
  }
}
