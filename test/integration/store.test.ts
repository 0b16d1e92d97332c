import pg from 'pg';
import { Migrator, sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS, migrationProvider } from '../../src/store/migrations/index.js';
import { newId, ID_PATTERN } from '../../src/store/new-id.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { KIMI_SERVICE } from '../../src/store/seed-services.js';
import { describeEachDialect, describeWithPostgres, TEST_DATABASE_URL } from '../helpers/postgres.js';

describe('newId', () => {
  it('prefixes 24 random hex characters with the kind', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newId('cred')));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(ID_PATTERN);
    expect(newId('per')).toMatch(/^per_[0-9a-f]{24}$/);
  });
});

describeEachDialect((target) => {
  let store: Store;

  beforeAll(async () => {
    store = await openStore(target.location());
  });
  afterAll(async () => {
    await store?.close();
  });

  it(`opens as ${target.dialect}, migrated to the latest migration`, async () => {
    expect(store.dialect).toBe(target.dialect);
    const applied = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(store.db);
    expect(applied.rows.map((row) => row.name)).toEqual(Object.keys(MIGRATIONS).sort());
    for (const table of ['people', 'services', 'applications', 'credentials'] as const) {
      await expect(store.db.selectFrom(table).select('id').execute()).resolves.toBeInstanceOf(Array);
    }
  });

  it('seeds the Kimi Chat Completions service', async () => {
    const services = await store.db.selectFrom('services').selectAll().execute();
    expect(services).toHaveLength(1);
    expect(services[0]).toMatchObject({ slug: 'kimi-chat-completions', name: 'Kimi Chat Completions API', status: 'active' });
    expect(services[0]?.id).toMatch(/^svc_[0-9a-f]{24}$/);
    expect(typeof services[0]?.created_at).toBe('number');
  });

  it('opens again without migrating or seeding twice', async () => {
    const before = await store.db.selectFrom('services').select('id').execute();
    const again = await openStore(target.location());
    try {
      const applied = await sql<{ name: string }>`select name from kysely_migration`.execute(again.db);
      expect(applied.rows).toHaveLength(Object.keys(MIGRATIONS).length);
      const after = await again.db.selectFrom('services').select('id').where('slug', '=', KIMI_SERVICE.slug).execute();
      expect(after).toEqual(before);
    } finally {
      await again.close();
    }
  });

  it('keys the usage log by (created_at, trace_id), keeping the rows of a log written before, and back', async () => {
    const location = await target.freshLocation();
    const fresh = await openStore(location.options);
    const schema = target.dialect === 'postgres' ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(fresh.db)).rows[0]?.schema : undefined;
    const migrator = new Migrator({ db: fresh.db, provider: migrationProvider, ...(schema === undefined ? {} : { migrationTableSchema: schema }) });
    const row = (i: number) => ({
      trace_id: `00000000-0000-4000-8000-00000000000${i}`,
      created_at: 1_700_000_000_000 + (i % 2),
      person_id: 'per_x',
      credential_id: 'cred_x',
      service_id: 'svc_x',
      wallet_id: null,
      model: 'kimi-k2',
      stream: 'false' as const,
      status: 'completed' as const,
      error_code: null,
      prompt_tokens: i,
      cached_tokens: 0,
      completion_tokens: i,
      cost: i,
      duration_ms: 1,
      ttft_ms: null,
      channel: null,
    });
    // The log before 0012 has no cache_write_tokens column: those rows go in through this view.
    const before0012 = fresh.db as unknown as Kysely<{ usage: ReturnType<typeof row> }>;
    try {
      // The log as 0006 left it, with rows in it.
      expect((await migrator.migrateTo('0006-topup-codes')).error).toBeUndefined();
      await before0012.insertInto('usage').values([row(1), row(2), row(3)]).execute();
      expect((await migrator.migrateToLatest()).error).toBeUndefined();
      const kept = await fresh.db.selectFrom('usage').selectAll().orderBy('trace_id').execute();
      // 0012 gave the old rows no cache writes.
      expect(kept).toEqual([row(1), row(2), row(3)].map((r) => ({ ...r, cache_write_tokens: 0 })));
      // The same row twice is still refused; another trace id at the same moment is not.
      await expect(fresh.db.insertInto('usage').values({ ...row(1), cache_write_tokens: 0 }).execute()).rejects.toThrow(/unique|duplicate/i);
      await fresh.db.insertInto('usage').values({ ...row(1), cache_write_tokens: 0, trace_id: '00000000-0000-4000-8000-000000000009' }).execute();
      const indexes = target.dialect === 'sqlite'
        ? (await sql<{ name: string }>`select name from sqlite_master where type = 'index' and tbl_name = 'usage'`.execute(fresh.db)).rows
        : (await sql<{ name: string }>`select indexname as name from pg_indexes where tablename = 'usage' and schemaname = current_schema()`.execute(fresh.db)).rows;
      expect(indexes.map((index) => index.name)).not.toContain('usage_created_at_index');
      expect(indexes.map((index) => index.name)).toContain('usage_person_time_index');
      // Down again: the rows stay, keyed by trace id.
      expect((await migrator.migrateTo('0006-topup-codes')).error).toBeUndefined();
      expect(await fresh.db.selectFrom('usage').select('trace_id').orderBy('trace_id').execute()).toHaveLength(4);
      await expect(before0012.insertInto('usage').values({ ...row(1), created_at: 1 }).execute()).rejects.toThrow(/unique|duplicate/i);
    } finally {
      await fresh.close();
      await location.remove();
    }
  });

  it('gives existing prices a cache-write price equal to their input price, (0012)', async () => {
    const location = await target.freshLocation();
    const fresh = await openStore(location.options);
    const schema = target.dialect === 'postgres' ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(fresh.db)).rows[0]?.schema : undefined;
    const migrator = new Migrator({ db: fresh.db, provider: migrationProvider, ...(schema === undefined ? {} : { migrationTableSchema: schema }) });
    type OldPrice = { model: string; cached_input: number; input: number; output: number; updated_at: number };
    const before0012 = fresh.db as unknown as Kysely<{ prices: OldPrice }>;
    try {
      expect((await migrator.migrateTo('0010-first-credential')).error).toBeUndefined();
      // Prices set before cache writes had one.
      await before0012
        .insertInto('prices')
        .values([
          { model: 'kimi-k2.5', cached_input: 100_000, input: 1_234_567, output: 3_000_000, updated_at: 1 },
          { model: 'kimi-k2-thinking', cached_input: 150_000, input: 600_000, output: 2_500_000, updated_at: 1 },
        ])
        .execute();
      expect((await migrator.migrateToLatest()).error).toBeUndefined();
      const prices = await fresh.db.selectFrom('prices').select(['model', 'input', 'cache_write']).execute();
      expect(prices).toHaveLength(2);
      for (const p of prices) expect(p.cache_write).toBe(p.input);
      expect(prices.find((p) => p.model === 'kimi-k2.5')?.cache_write).toBe(1_234_567);
      // Down again: the column goes, the prices stay.
      expect((await migrator.migrateTo('0010-first-credential')).error).toBeUndefined();
      const old = await before0012.selectFrom('prices').selectAll().where('model', '=', 'kimi-k2.5').executeTakeFirstOrThrow();
      expect(old).not.toHaveProperty('cache_write');
      expect(old.input).toBe(1_234_567);
    } finally {
      await fresh.close();
      await location.remove();
    }
  });

  // On SQLite this needs separate processes (better-sqlite3 waits for a lock synchronously,
  // so two stores in one process would block each other): cli-credential.test.ts covers it.
  if (target.dialect === 'postgres') it('survives several processes opening a new database at once', async () => {
    const fresh = await target.freshLocation();
    try {
      const stores = await Promise.all([1, 2, 3, 4].map(() => openStore(fresh.options)));
      try {
        const services = await stores[0]!.db.selectFrom('services').select('slug').execute();
        expect(services).toEqual([{ slug: KIMI_SERVICE.slug }]);
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    } finally {
      await fresh.remove();
    }
  });

  it('reads millisecond timestamps back as exact JavaScript numbers', async () => {
    const createdAt = 4_102_444_800_123; // 2100-01-01T00:00:00.123Z: beyond 2^32, well within 2^53
    const id = newId('per');
    await store.db
      .insertInto('people')
      .values({ id, email: `${id}@example.com`, role: 'user', status: 'active', created_at: createdAt })
      .execute();
    const row = await store.db.selectFrom('people').select('created_at').where('id', '=', id).executeTakeFirstOrThrow();
    expect(row.created_at).toBe(createdAt);
  });

  it('enforces foreign keys', async () => {
    const kimi = await store.db.selectFrom('services').select('id').executeTakeFirstOrThrow();
    await expect(
      store.db
        .insertInto('applications')
        .values({ id: newId('app'), person_id: 'per_missing', service_id: kimi.id, status: 'active', created_at: 1 })
        .execute(),
    ).rejects.toThrow();
  });

  it('refuses a credential bound to a service without an application', async () => {
    const kimi = await store.db.selectFrom('services').select('id').executeTakeFirstOrThrow();
    const personId = newId('per');
    await store.db
      .insertInto('people')
      .values({ id: personId, email: `${personId}@example.com`, role: 'user', status: 'active', created_at: 1 })
      .execute();
    await expect(
      store.db
        .insertInto('credentials')
        .values({
          id: newId('cred'),
          person_id: personId,
          service_id: kimi.id,
          application_id: null,
          name: 'half-scoped',
          token_hash: newId('cred'),
          token_prefix: 'mg-xxxxxxx',
          status: 'active',
          expires_at: null,
          created_at: 1,
          revoked_at: null,
        })
        .execute(),
    ).rejects.toThrow();
  });

  if (target.dialect === 'sqlite') it('sets up SQLite for one writer beside many readers', async () => {
    const pragma = async (name: string): Promise<unknown> => {
      const { rows } = await sql.raw<Record<string, unknown>>(`pragma ${name}`).execute(store.db);
      return Object.values(rows[0] ?? {})[0];
    };
    expect(await pragma('journal_mode')).toBe('wal');
    expect(await pragma('synchronous')).toBe(1); // NORMAL
    expect(await pragma('busy_timeout')).toBe(5000);
    expect(await pragma('foreign_keys')).toBe(1);
  });

  if (target.dialect === 'postgres') it('parses int8 as a number for its own pool only', async () => {
    const { rows } = await sql<{ n: unknown }>`select 9007199254740991::int8 as n`.execute(store.db);
    expect(rows[0]?.n).toBe(Number.MAX_SAFE_INTEGER);
    // The process-wide pg parser is untouched: other pools keep pg's string default.
    expect(pg.types.getTypeParser(pg.types.builtins.INT8, 'text')('5')).toBe('5');
    await expect(sql`select 9007199254740993::int8 as n`.execute(store.db)).rejects.toThrow(/does not fit/);
  });
});

describeWithPostgres('the PostgreSQL test database of a Vitest worker', (schema) => {
  it("is the worker's own, so no other file drops a schema while this one migrates", async () => {
    const client = new pg.Client({ connectionString: schema.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ database: string; schema: string }>('select current_database() as database, current_schema() as schema');
      const base = decodeURIComponent(new URL(TEST_DATABASE_URL).pathname.slice(1));
      expect(rows[0]).toEqual({ database: `${base}_worker_${process.env.VITEST_POOL_ID}`, schema: schema.name });
    } finally {
      await client.end();
    }
  });
});
