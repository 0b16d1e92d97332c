/**
 * Queries compiled once and run with new values (src/store/prepared-query.ts), on both
 * dialects: the values land where the builder put them, in any order and any number of
 * times, and a slot the compiled query lost is an error at preparation, not a wrong query.
 */
import { sql, type Insertable } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { USAGE_COLUMNS } from '../../src/billing/settlement-batcher.js';
import type { UsageTable } from '../../src/store/database.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { PreparedInsert, PreparedQuery } from '../../src/store/prepared-query.js';
import { describeEachDialect } from '../helpers/postgres.js';

describeEachDialect((target) => {
  let store: Store;
  beforeAll(async () => {
    store = await openStore(target.location());
  });
  afterAll(async () => {
    await store.close();
  });

  it('puts each run its own values, wherever the builder placed them', async () => {
    const query = new PreparedQuery((slot) =>
      store.db
        .selectFrom('services')
        .select(['slug', sql<string>`${slot('greeting')}`.as('greeting')])
        .where('slug', '=', slot('slug'))
        .where('status', '=', slot<'active' | 'disabled'>('status')),
    );
    expect(query.sql).not.toContain('moongate-slot');
    const found = await query.executeTakeFirst(store.db, { status: 'active', slug: 'kimi-chat-completions', greeting: 'hi' });
    expect(found).toEqual({ slug: 'kimi-chat-completions', greeting: 'hi' });
    // Same statement, other values: nothing of the previous run sticks.
    expect(await query.executeTakeFirst(store.db, { status: 'disabled', slug: 'kimi-chat-completions', greeting: 'x' })).toBeUndefined();
    expect(await query.executeTakeFirst(store.db, { status: 'active', slug: 'no-such-service', greeting: 'x' })).toBeUndefined();
  });

  it('fills a slot used twice in both places, and keeps constants the builder was given', async () => {
    const query = new PreparedQuery((slot) =>
      store.db
        .selectFrom('services')
        .select('slug')
        .where((eb) => eb.or([eb('slug', '=', slot('slug')), eb('name', '=', slot('slug'))]))
        .where('status', '=', 'active'),
    );
    const rows = (await query.execute(store.db, { slug: 'kimi-chat-completions' })).rows;
    expect(rows).toEqual([{ slug: 'kimi-chat-completions' }]);
  });

  it('refuses a run without a value for a slot, and a slot that did not reach the query', async () => {
    const query = new PreparedQuery((slot) => store.db.selectFrom('services').select('slug').where('slug', '=', slot('slug')));
    expect(() => query.execute(store.db, {})).toThrow(/no value for slot slug/);
    expect(
      () =>
        new PreparedQuery((slot) => {
          slot('forgotten');
          return store.db.selectFrom('services').select('slug');
        }),
    ).toThrow(/slot forgotten is not among the compiled parameters/);
  });

  it('inserts batches of any size, each row with its own values, nulls kept', async () => {
    const insert = new PreparedInsert<Insertable<UsageTable>>((rows) => store.db.insertInto('usage').values(rows).compile(), USAGE_COLUMNS);
    const row = (i: number): Insertable<UsageTable> => ({
      trace_id: `prep-${i}`,
      created_at: 1_700_000_000_000 + i,
      person_id: `per_${i}`,
      credential_id: `cred_${i}`,
      service_id: 'svc',
      wallet_id: i % 2 === 0 ? null : `wal_${i}`,
      model: 'kimi-k2',
      stream: i % 2 === 0 ? 'true' : 'false',
      status: 'completed',
      error_code: i % 3 === 0 ? 'x' : null,
      prompt_tokens: i,
      cached_tokens: 0,
      cache_write_tokens: 0,
      completion_tokens: 2 * i,
      cost: 10 * i,
      duration_ms: i + 1,
      ttft_ms: i % 2 === 0 ? null : i,
      channel: 'c',
    });
    // 3, then 1, then 3 again: the second 3-row batch reuses the first's compiled statement.
    const batches = [[1, 2, 3], [4], [5, 6, 7]];
    for (const batch of batches) await insert.execute(store.db, batch.map(row));
    const stored = await store.db.selectFrom('usage').selectAll().where('trace_id', 'like', 'prep-%').orderBy('trace_id').execute();
    expect(stored).toEqual(batches.flat().map(row));
  });
});
