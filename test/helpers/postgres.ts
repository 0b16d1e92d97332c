/**
 * PostgreSQL for integration tests: a real server (TEST_DATABASE_URL), a database of its own
 * for each Vitest worker (`<database>_worker_<VITEST_POOL_ID>`, created when missing), and in
 * it one fresh schema per test file or block, dropped afterwards.
 *
 * Why a database per worker, not only a schema per file: Kysely's migrator, before it takes
 * its lock, lists the tables of every schema in the database (`has_schema_privilege` on each
 * name), and a schema that another file drops during that query fails the migration with
 * "schema ... does not exist". A worker runs one file at a time, so within its database no
 * schema is dropped while another file migrates. Where the role may not create databases,
 * every worker shares TEST_DATABASE_URL, with a warning (run with --maxWorkers=1 there).
 *
 * When the server cannot be reached, a local run skips the PostgreSQL suites with a loud
 * warning, but under CI=true the test file fails: a CI run must never pass by skipping.
 *
 * Usage, for a suite written once and run on both dialects:
 *   describeEachDialect((target) => {
 *     it('...', async () => { const store = await openStore(target.location()); ... });
 *   });
 * or, for PostgreSQL alone: describeWithPostgres('...', (schema) => { ... schema.url ... }).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe } from 'vitest';
import type { StoreDialect } from '../../src/store/migrate-to-latest.js';
import type { OpenStoreOptions } from '../../src/store/open-store.js';
import { makeTempDir, useTempDir } from './temp-dir.js';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const IN_CI = process.env.CI === 'true';

export interface PostgresSchema {
  /** The schema's name (lowercase letters, digits and underscores). */
  readonly name: string;
  /** TEST_DATABASE_URL with `search_path` pinned to the schema. */
  readonly url: string;
}

let availability: Promise<boolean> | undefined;

/**
 * Whether PostgreSQL answers at TEST_DATABASE_URL (probed once per test file). Locally a
 * missing server gives false and a warning; under CI=true it rejects.
 */
export function postgresAvailable(): Promise<boolean> {
  availability ??= probe();
  return availability;
}

async function probe(): Promise<boolean> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch (error) {
    const reason = error instanceof Error ? error.message || error.name : String(error);
    const message = `PostgreSQL is not reachable at ${redact(TEST_DATABASE_URL)} (${reason}); set TEST_DATABASE_URL or start PostgreSQL.`;
    if (IN_CI) throw new Error(`${message} CI=true, so the PostgreSQL suites fail instead of skipping.`, { cause: error });
    console.warn(`\n!!! ${message}\n!!! SKIPPING the PostgreSQL test suites. They run (and must pass) in CI.\n`);
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** PostgreSQL's codes for a database that exists, and for a name taken by a concurrent create. */
const DUPLICATE_DATABASE = '42P04';
const UNIQUE_VIOLATION = '23505';
const INSUFFICIENT_PRIVILEGE = '42501';

/**
 * This worker's database: TEST_DATABASE_URL's, suffixed with the worker's pool id and created
 * if missing. Outside a Vitest worker, or where the role may not create databases,
 * TEST_DATABASE_URL itself.
 */
async function workerDatabaseUrl(): Promise<string> {
  const poolId = process.env.VITEST_POOL_ID;
  if (poolId === undefined || !/^\d+$/.test(poolId)) return TEST_DATABASE_URL;
  const url = new URL(TEST_DATABASE_URL);
  const base = decodeURIComponent(url.pathname.slice(1)) || 'postgres';
  const name = `${base}_worker_${poolId}`;
  if (!/^[A-Za-z0-9_]{1,63}$/.test(name)) return TEST_DATABASE_URL;
  try {
    await withClient(TEST_DATABASE_URL, (client) => client.query(`create database "${name}"`));
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === INSUFFICIENT_PRIVILEGE) {
      console.warn(`\n!!! PostgreSQL: may not create the worker database ${name}; every worker shares ${redact(TEST_DATABASE_URL)}, and files that migrate while another drops its schema can fail. Run with --maxWorkers=1 there.\n`);
      return TEST_DATABASE_URL;
    }
    if (code !== DUPLICATE_DATABASE && code !== UNIQUE_VIOLATION) throw error;
  }
  url.pathname = `/${name}`;
  return url.toString();
}

/** Creates a uniquely named schema; `drop()` removes it with everything in it. */
export async function createPostgresSchema(): Promise<PostgresSchema & { drop(): Promise<void> }> {
  const name = `test_${process.pid}_${randomBytes(6).toString('hex')}`;
  const database = await workerDatabase();
  await withClient(database, (client) => client.query(`create schema "${name}"`));
  const url = new URL(database);
  url.searchParams.set('options', `-c search_path=${name}`);
  return {
    name,
    url: url.toString(),
    drop: () => withClient(database, (client) => client.query(`drop schema if exists "${name}" cascade`)).then(() => undefined),
  };
}

let workerDatabasePromise: Promise<string> | undefined;

function workerDatabase(): Promise<string> {
  workerDatabasePromise ??= workerDatabaseUrl();
  return workerDatabasePromise;
}

/**
 * A fresh schema for the enclosing file or describe block: created before its tests,
 * dropped after them. Read `.name` and `.url` inside hooks and tests.
 */
export function usePostgresSchema(): PostgresSchema {
  let schema: (PostgresSchema & { drop(): Promise<void> }) | undefined;
  beforeAll(async () => {
    schema = await createPostgresSchema();
  });
  afterAll(async () => {
    await schema?.drop();
  });
  const current = (): PostgresSchema => {
    if (schema === undefined) throw new Error('usePostgresSchema: the schema exists only inside hooks and tests');
    return schema;
  };
  return {
    get name() {
      return current().name;
    },
    get url() {
      return current().url;
    },
  };
}

// Top-level await: describe() must know at collection time whether to skip.
const available = await postgresAvailable();

/** A describe block that needs PostgreSQL: it gets a fresh schema, or is skipped locally without one. */
export function describeWithPostgres(name: string, body: (schema: PostgresSchema) => void): void {
  describe.skipIf(!available)(name, () => {
    body(usePostgresSchema());
  });
}

async function withClient<T>(connectionString: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable TEST_DATABASE_URL)';
  }
}

/** Where a suite's stores live, for one dialect. */
export interface StoreTarget {
  readonly dialect: StoreDialect;
  /** The location shared by the enclosing block (a temp data dir, plus a schema on PostgreSQL). */
  location(): OpenStoreOptions;
  /** A new, empty location, for tests that need a database nobody has opened yet. */
  freshLocation(): Promise<{ options: OpenStoreOptions; remove(): Promise<void> }>;
}

/**
 * Runs the same suite against SQLite (a real file in a temp dir) and PostgreSQL (a fresh
 * schema), the way Kysely runs one suite against every dialect.
 */
export function describeEachDialect(body: (target: StoreTarget) => void): void {
  describe('on SQLite', () => {
    const dir = useTempDir();
    body({
      dialect: 'sqlite',
      location: () => ({ dataDir: dir.path }),
      freshLocation: async () => {
        const fresh = await makeTempDir();
        return { options: { dataDir: fresh.path }, remove: fresh.remove };
      },
    });
  });
  describeWithPostgres('on PostgreSQL', (schema) => {
    const dir = useTempDir();
    body({
      dialect: 'postgres',
      location: () => ({ dataDir: dir.path, databaseUrl: schema.url }),
      freshLocation: async () => {
        const fresh = await createPostgresSchema();
        return { options: { dataDir: dir.path, databaseUrl: fresh.url }, remove: fresh.drop };
      },
    });
  });
}
