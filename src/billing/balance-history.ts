/**
 * Where a person's money came from, for the balance page's chart: each free-quota grant (a
 * quota wallet, at its creation; its amount is what is left plus what requests were charged
 * to it) and each redeemed top-up code. Newest last; at most the latest 500 redemptions.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../store/database.js';

export interface MoneyIn {
  kind: 'free_quota' | 'redemption';
  at: number;
  /** Micro-units. */
  amount: number;
}

const MAX_REDEMPTIONS = 500;

export async function balanceHistory(db: Kysely<Database>, personId: string): Promise<MoneyIn[]> {
  const grants = await db
    .selectFrom('wallets as w')
    .leftJoin('usage as u', 'u.wallet_id', 'w.id')
    .select(['w.id', 'w.created_at', 'w.amount', sql<string | number | null>`sum(u.cost)`.as('spent')])
    .where('w.person_id', '=', personId)
    .where('w.kind', '=', 'quota')
    .groupBy(['w.id', 'w.created_at', 'w.amount'])
    .execute();
  const redemptions = await db
    .selectFrom('topup_codes')
    .select(['amount', 'redeemed_at'])
    .where('redeemed_by', '=', personId)
    .where('redeemed_at', 'is not', null)
    .orderBy('redeemed_at', 'desc')
    .limit(MAX_REDEMPTIONS)
    .execute();
  const events: MoneyIn[] = [
    ...grants.map((g) => ({ kind: 'free_quota' as const, at: g.created_at, amount: g.amount + Number(g.spent ?? 0) })),
    ...redemptions.map((r) => ({ kind: 'redemption' as const, at: r.redeemed_at ?? 0, amount: r.amount })),
  ];
  return events.filter((e) => e.amount > 0).sort((a, b) => a.at - b.at);
}
