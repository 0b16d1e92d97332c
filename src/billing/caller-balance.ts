/**
 * What a credential can spend right now, for GET /v1/users/me/balance (Moonshot's shape,
 * docs/billing.md, "Balance endpoint"). It follows the order a hold takes (hold-ledger.ts):
 * a service credential draws on its application's quota, then on the person's balance when
 * the application allows it; a global credential draws on the person's balance alone.
 * Amounts are integer micro-units, what is held for running requests already taken off.
 */
import type { Kysely } from 'kysely';
import type { AuthenticatedCaller } from '../gateway/pipeline.js';
import type { Database } from '../store/database.js';

export interface CallerBalance {
  /** The application's quota left (never negative); 0 for a global credential. */
  quota: number;
  /** The person's balance left, when this credential may draw on it (0 otherwise); may be negative. */
  balance: number;
  /** What the credential can spend: quota + balance, a negative balance counting as 0. */
  available: number;
}

export async function readCallerBalance(
  db: Kysely<Database>,
  caller: Pick<AuthenticatedCaller, 'personId' | 'applicationId' | 'global'>,
): Promise<CallerBalance> {
  const ids = caller.applicationId === null ? [caller.personId] : [caller.applicationId, caller.personId];
  const rows = await db.selectFrom('wallets').select(['id', 'amount', 'held', 'fallback']).where('id', 'in', ids).execute();
  const byId = new Map(rows.map((row) => [row.id, row]));
  const quotaWallet = caller.applicationId === null ? undefined : byId.get(caller.applicationId);
  const quota = quotaWallet === undefined ? 0 : Math.max(quotaWallet.amount - quotaWallet.held, 0);
  const reachesBalance = caller.global || quotaWallet?.fallback === 'balance';
  const personWallet = reachesBalance ? byId.get(caller.personId) : undefined;
  const balance = personWallet === undefined ? 0 : personWallet.amount - personWallet.held;
  return { quota, balance, available: quota + Math.max(balance, 0) };
}
