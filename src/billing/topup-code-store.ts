/**
 * Top-up codes in the store (docs/billing.md, "Top-up codes"): made in batches by an
 * operator (CLI or admin console), listed without their text, and redeemed exactly once
 * into a person's global balance.
 */
import type { Kysely } from 'kysely';
import { MoongateError } from '../contract/errors.js';
import type { Database } from '../store/database.js';
import { newId } from '../store/new-id.js';
import { decodeCursor, encodeCursor } from '../store/cursor.js';
import { hashTopupCode, newTopupCode } from './topup-code.js';
import { addBalance } from './wallet-store.js';

/** Codes one call may make: enough for a print run, small enough for one insert. */
export const MAX_CODES_PER_BATCH = 1000;

export interface NewTopupCode {
  id: string;
  /** Shown once, to the operator who made it. */
  code: string;
  amount: number;
  expiresAt: number | null;
}

export type TopupCodeStatus = 'unused' | 'redeemed' | 'expired';

export interface TopupCodeListing {
  id: string;
  amount: number;
  status: TopupCodeStatus;
  createdAt: number;
  /** The admin who made it; null for the CLI. */
  createdBy: string | null;
  expiresAt: number | null;
  redeemedAt: number | null;
  redeemedBy: { id: string; email: string } | null;
}

export class TopupCodeStore {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** `count` new codes worth `amount` micro-units each; their text exists only in the result. */
  async createCodes(
    input: { amount: number; count: number; expiresAt?: number | null | undefined; createdBy?: string | null | undefined },
    now: number = Date.now(),
  ): Promise<NewTopupCode[]> {
    if (!Number.isSafeInteger(input.amount) || input.amount <= 0) {
      throw new MoongateError('bad_request', 'amount must be a positive whole number of micro-units');
    }
    if (!Number.isSafeInteger(input.count) || input.count < 1 || input.count > MAX_CODES_PER_BATCH) {
      throw new MoongateError('bad_request', `count must be a whole number from 1 to ${MAX_CODES_PER_BATCH}`);
    }
    const expiresAt = input.expiresAt ?? null;
    if (expiresAt !== null && (!Number.isSafeInteger(expiresAt) || expiresAt <= now)) {
      throw new MoongateError('bad_request', 'expiresAt must be a time in the future');
    }
    const made = Array.from({ length: input.count }, () => ({ id: newId('code'), ...newTopupCode() }));
    await this.#db
      .insertInto('topup_codes')
      .values(
        made.map((c) => ({
          id: c.id,
          code_hash: c.hash,
          amount: input.amount,
          created_at: now,
          created_by: input.createdBy ?? null,
          expires_at: expiresAt,
          redeemed_at: null,
          redeemed_by: null,
        })),
      )
      .execute();
    return made.map((c) => ({ id: c.id, code: c.code, amount: input.amount, expiresAt }));
  }

  /** Newest first; never the code. Without a limit, all of them (the CLI). */
  async listCodes(
    page: { limit?: number | undefined; before?: string | undefined } = {},
    now: number = Date.now(),
  ): Promise<{ codes: TopupCodeListing[]; next: string | null }> {
    let query = this.#db
      .selectFrom('topup_codes as t')
      .leftJoin('people as p', 'p.id', 't.redeemed_by')
      .select(['t.id', 't.amount', 't.created_at', 't.created_by', 't.expires_at', 't.redeemed_at', 't.redeemed_by', 'p.email as redeemed_by_email']);
    if (page.before !== undefined) {
      const cursor = decodeCursor(page.before);
      query = query.where((eb) =>
        eb.or([eb('t.created_at', '<', cursor.createdAt), eb.and([eb('t.created_at', '=', cursor.createdAt), eb('t.id', '<', cursor.key)])]),
      );
    }
    query = query.orderBy('t.created_at', 'desc').orderBy('t.id', 'desc');
    if (page.limit !== undefined) query = query.limit(page.limit + 1);
    const found = await query.execute();
    const rows = page.limit === undefined ? found : found.slice(0, page.limit);
    const codes = rows.map(
      (r): TopupCodeListing => ({
        id: r.id,
        amount: r.amount,
        status: r.redeemed_at !== null ? 'redeemed' : r.expires_at !== null && r.expires_at <= now ? 'expired' : 'unused',
        createdAt: r.created_at,
        createdBy: r.created_by,
        expiresAt: r.expires_at,
        redeemedAt: r.redeemed_at,
        redeemedBy: r.redeemed_by === null ? null : { id: r.redeemed_by, email: r.redeemed_by_email ?? '' },
      }),
    );
    const last = codes.at(-1);
    const next = page.limit !== undefined && found.length > page.limit && last !== undefined ? encodeCursor(last.createdAt, last.id) : null;
    return { codes, next };
  }

  /**
   * Redeems a code into the person's global balance: the amount credited, or undefined
   * for a code that is unknown, used or expired (the caller cannot tell which). Exactly
   * once: one conditional update claims the code, and the credit commits with it in one
   * transaction; a concurrent redemption of the same code finds it claimed (PostgreSQL
   * re-checks the condition after the first commit; SQLite runs one writer at a time).
   */
  async redeem(personId: string, typed: string, now: number = Date.now()): Promise<number | undefined> {
    const hash = hashTopupCode(typed);
    if (hash === undefined) return undefined;
    return this.#db.transaction().execute(async (trx) => {
      const claimed = await trx
        .updateTable('topup_codes')
        .set({ redeemed_at: now, redeemed_by: personId })
        .where('code_hash', '=', hash)
        .where('redeemed_at', 'is', null)
        .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
        .returning('amount')
        .executeTakeFirst();
      if (claimed === undefined) return undefined;
      await addBalance(trx, personId, claimed.amount, now);
      return claimed.amount;
    });
  }
}
