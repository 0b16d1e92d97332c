/**
 * The real `moongate credential` command, run as a child process the way an operator
 * runs it. bin/moongate.js imports dist/, so the build is brought up to date first
 * (only when some source file is newer than its output).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { authenticate } from '../../src/accounts/authenticate.js';
import { CREDENTIAL_TOKEN_PATTERN } from '../../src/accounts/credential-token.js';
import type { Credential } from '../../src/accounts/credential-store.js';
import { MoongateError } from '../../src/contract/errors.js';
import { openStore, type OpenStoreOptions } from '../../src/store/open-store.js';
import { KIMI_SERVICE } from '../../src/store/seed-services.js';
import { describeWithPostgres } from '../helpers/postgres.js';
import { ensureBuilt, runMoongate, type Run } from '../helpers/moongate-cli.js';
import { makeTempDir, useTempDir } from '../helpers/temp-dir.js';

const DAY_MS = 86_400_000;

function moongate(args: string[], env: { DATA_DIR: string; DATABASE_URL?: string }): Promise<Run> {
  return runMoongate(args, env);
}

beforeAll(ensureBuilt, 120_000);

async function authenticateIn(location: OpenStoreOptions, token: string, serviceSlug = KIMI_SERVICE.slug) {
  const store = await openStore(location);
  try {
    return await authenticate(`Bearer ${token}`, serviceSlug, store);
  } finally {
    await store.close();
  }
}

function expectOneToken(run: Run): string {
  expect(run.code, run.stderr).toBe(0);
  expect(run.stdout).toMatch(/^[^\n]*\n$/);
  const token = run.stdout.trimEnd();
  expect(token).toMatch(CREDENTIAL_TOKEN_PATTERN);
  return token;
}

function expectUserError(run: Run, message: RegExp): void {
  expect(run.code).toBe(1);
  expect(run.stdout).toBe('');
  expect(run.stderr).toMatch(message);
  expect(run.stderr).not.toMatch(/^\s+at /m);
}

describe('moongate credential (SQLite)', () => {
  const dataDir = useTempDir();
  const env = (): { DATA_DIR: string } => ({ DATA_DIR: dataDir.path });

  it('create prints the token alone on stdout, and the token authenticates', async () => {
    const run = await moongate(['credential', 'create', '--email', 'Ada@Example.com'], env());
    const token = expectOneToken(run);
    expect(run.stderr).toMatch(/cred_[0-9a-f]{24}/);
    expect(run.stderr).not.toContain(token);
    const auth = await authenticateIn({ dataDir: dataDir.path }, token);
    expect(auth).toMatchObject({ global: false, applicationId: expect.stringMatching(/^app_/) });
  });

  it('list --json shows the credentials without their tokens', async () => {
    const token = expectOneToken(await moongate(['credential', 'create', '--email', 'grace@example.com', '--name', 'laptop'], env()));
    const run = await moongate(['credential', 'list', '--email', 'grace@example.com', '--json'], env());
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).not.toContain(token);
    expect(run.stdout).not.toContain(token.slice(10));
    const listed = JSON.parse(run.stdout) as Credential[];
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({
      name: 'laptop',
      tokenPrefix: token.slice(0, 10),
      serviceSlug: KIMI_SERVICE.slug,
      global: false,
      status: 'active',
      expiresAt: null,
    });
    expect(listed[0]).not.toHaveProperty('token');
    expect(listed[0]).not.toHaveProperty('tokenHash');
  });

  it('list prints a table', async () => {
    const token = expectOneToken(await moongate(['credential', 'create', '--email', 'tabular@example.com'], env()));
    const run = await moongate(['credential', 'list', '--email', 'tabular@example.com'], env());
    expect(run.code, run.stderr).toBe(0);
    const [header, row, ...rest] = run.stdout.trimEnd().split('\n');
    expect(header?.split(/\s+/)).toEqual(['ID', 'NAME', 'PREFIX', 'SCOPE', 'STATUS', 'EXPIRES', 'CREATED']);
    expect(row).toContain(`${token.slice(0, 10)}...`);
    expect(row).toMatch(/cred_[0-9a-f]{24}\s+default\s+\S+\s+kimi-chat-completions\s+active\s+never\s+\d{4}-/);
    expect(rest).toEqual([]);
    expect(run.stdout).not.toContain(token);
  });

  it('create --global --name --expires makes a global credential with an expiry', async () => {
    const before = Date.now();
    const token = expectOneToken(
      await moongate(['credential', 'create', '--email', 'linus@example.com', '--global', '--name', 'ci', '--expires', '30d'], env()),
    );
    const listed = JSON.parse((await moongate(['credential', 'list', '--email', 'linus@example.com', '--json'], env())).stdout) as Credential[];
    expect(listed).toEqual([expect.objectContaining({ global: true, name: 'ci', serviceSlug: null, applicationId: null })]);
    expect(listed[0]?.expiresAt).toBeGreaterThanOrEqual(before + 30 * DAY_MS);
    expect(listed[0]?.expiresAt).toBeLessThanOrEqual(Date.now() + 30 * DAY_MS);
    await expect(authenticateIn({ dataDir: dataDir.path }, token)).resolves.toMatchObject({ global: true });
  });

  it('revoke makes the token invalid', async () => {
    const token = expectOneToken(await moongate(['credential', 'create', '--email', 'barbara@example.com'], env()));
    const [listed] = JSON.parse((await moongate(['credential', 'list', '--email', 'barbara@example.com', '--json'], env())).stdout) as Credential[];
    const run = await moongate(['credential', 'revoke', listed!.id], env());
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(listed!.id);
    const error: unknown = await authenticateIn({ dataDir: dataDir.path }, token).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MoongateError);
    expect((error as MoongateError).code).toBe('invalid_token');
  });

  it('reports user errors on stderr with exit code 1 and no stack trace', async () => {
    expectUserError(await moongate(['credential', 'create', '--email', 'not-an-email'], env()), /^moongate: .*email/);
    expectUserError(await moongate(['credential', 'create', '--email', 'ok@example.com', '--expires', '3x'], env()), /--expires/);
    expectUserError(await moongate(['credential', 'revoke', 'cred_000000000000000000000000'], env()), /^moongate: .*does not exist/);
    expectUserError(await moongate(['credential', 'list', '--email', 'nobody@example.com'], env()), /^moongate: .*nobody@example\.com/);
  });

  it('several processes creating credentials at once in a new data dir all succeed', async () => {
    const fresh = await makeTempDir();
    try {
      const runs = await Promise.all(
        [1, 2, 3, 4].map(() => moongate(['credential', 'create', '--email', 'crowd@example.com'], { DATA_DIR: fresh.path })),
      );
      const tokens = runs.map(expectOneToken);
      expect(new Set(tokens).size).toBe(4);
      const store = await openStore({ dataDir: fresh.path });
      try {
        expect(await store.db.selectFrom('services').select('slug').execute()).toEqual([{ slug: KIMI_SERVICE.slug }]);
        expect(await store.db.selectFrom('people').select('email').execute()).toEqual([{ email: 'crowd@example.com' }]);
        expect(await store.db.selectFrom('applications').select('id').execute()).toHaveLength(1);
        expect(await store.db.selectFrom('credentials').select('id').execute()).toHaveLength(4);
      } finally {
        await store.close();
      }
    } finally {
      await fresh.remove();
    }
  });
});

describeWithPostgres('moongate credential (PostgreSQL, DATABASE_URL)', (schema) => {
  const dataDir = useTempDir();

  it('create writes to PostgreSQL, and the token authenticates there', async () => {
    const env = { DATA_DIR: dataDir.path, DATABASE_URL: schema.url };
    const token = expectOneToken(await moongate(['credential', 'create', '--email', 'ada@example.com'], env));
    await expect(authenticateIn({ dataDir: dataDir.path, databaseUrl: schema.url }, token)).resolves.toMatchObject({ global: false });
    const list = await moongate(['credential', 'list', '--email', 'ada@example.com', '--json'], env);
    expect(JSON.parse(list.stdout)).toHaveLength(1);
  });
});
