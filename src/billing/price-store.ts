/**
 * The price table in the store: seeded from SPEC.md at open, edited by the operator
 * (`moongate price set`), and read through a short-lived cache on the hot path.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../store/database.js';
import { CURRENT_MODEL_PRICES, SEED_PRICES, type Price } from './price-list.js';

/** Inserts the seed price of every built-in model that has none; an operator's edits are kept. */
export async function seedPrices(db: Kysely<Database>, now: number = Date.now()): Promise<void> {
  await db
    .insertInto('prices')
    .values(
      [...SEED_PRICES, ...CURRENT_MODEL_PRICES].map((p) => ({
        model: p.model,
        cached_input: p.cachedInput,
        input: p.input,
        output: p.output,
        cache_write: p.cacheWrite,
        updated_at: now,
      })),
    )
    .onConflict((conflict) => conflict.column('model').doNothing())
    .execute();
}

export async function readPrices(db: Kysely<Database>): Promise<Price[]> {
  const rows = await db
    .selectFrom('prices')
    .select(['model', 'cached_input', 'input', 'output', 'cache_write'])
    .orderBy('model')
    .execute();
  return rows.map((r) => ({ model: r.model, cachedInput: r.cached_input, input: r.input, output: r.output, cacheWrite: r.cache_write }));
}

export async function setPrice(db: Kysely<Database>, price: Price, now: number = Date.now()): Promise<void> {
  const known = await db.selectFrom('models').select('id').where('id', '=', price.model).executeTakeFirst();
  if (known === undefined) throw new RangeError(`${price.model} is not in the model catalogue`);
  for (const value of [price.cachedInput, price.input, price.output, price.cacheWrite]) {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError('prices are whole, non-negative micro-units');
  }
  const row = {
    cached_input: price.cachedInput,
    input: price.input,
    output: price.output,
    cache_write: price.cacheWrite,
    updated_at: now,
  };
  await db
    .insertInto('prices')
    .values({ model: price.model, ...row })
    .onConflict((conflict) => conflict.column('model').doUpdateSet(row))
    .execute();
}

/**
 * Prices as admission sees them: reloaded at most every `ttlMs`, so an operator's change
 * (made by the CLI in another process) applies within seconds without a query per request.
 * A request is settled at the price it was admitted at, so its hold always covers it.
 */
export class PriceBook {
  #prices = new Map<string, Price>();
  #loadedAt = -Infinity;
  #loading: Promise<void> | undefined;
  /** Bumped by invalidate(), so a load that started before a change is not taken as fresh. */
  #generation = 0;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly ttlMs = 5_000,
  ) {}

  async get(model: string): Promise<Price | undefined> {
    if (performance.now() - this.#loadedAt > this.ttlMs) await this.#reload();
    return this.#prices.get(model);
  }

  /** A price changed in this process (the admin API): the next request reads the table again. */
  invalidate(): void {
    this.#generation++;
    this.#loadedAt = -Infinity;
    this.#loading = undefined;
  }

  #reload(): Promise<void> {
    if (this.#loading !== undefined) return this.#loading;
    const generation = this.#generation;
    const loading = readPrices(this.db)
      .then((prices) => {
        if (generation !== this.#generation) return;
        this.#prices = new Map(prices.map((p) => [p.model, p]));
        this.#loadedAt = performance.now();
      })
      .finally(() => {
        if (this.#loading === loading) this.#loading = undefined;
      });
    this.#loading = loading;
    return loading;
  }
}
