/**
 * `moongate code create | list` as the real binary: codes printed once, in the MG-XXXX-…
 * format, stored hashed, listed with their status and redeemer but never their text.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { PersonStore } from '../../src/accounts/person-store.js';
import { TOPUP_CODE_PATTERN } from '../../src/billing/topup-code.js';
import { TopupCodeStore, type TopupCodeListing } from '../../src/billing/topup-code-store.js';
import { openStore } from '../../src/store/open-store.js';
import { ensureBuilt, runMoongate } from '../helpers/moongate-cli.js';
import { useTempDir } from '../helpers/temp-dir.js';

beforeAll(ensureBuilt, 120_000);
const dir = useTempDir();
const env = () => ({ DATA_DIR: dir.path, DATABASE_URL: undefined });

describe('moongate code', () => {
  it('creates codes, prints them once, and lists their status without them', async () => {
    const created = await runMoongate(['code', 'create', '--amount', '2.50', '--count', '3', '--expires', '30d'], env());
    expect(created.code, created.stderr).toBe(0);
    const printed = created.stdout.trim().split('\n');
    expect(printed).toHaveLength(3);
    for (const code of printed) expect(code).toMatch(TOPUP_CODE_PATTERN);
    expect(created.stderr).toMatch(/Made 3 codes worth 2\.50 USD each, redeemable until 20\d\d-/);

    const json = await runMoongate(['code', 'create', '--amount', '0.000001', '--json'], env());
    const made = JSON.parse(json.stdout) as Array<{ id: string; code: string; amount: number; expiresAt: number | null }>;
    expect(made).toEqual([{ id: expect.stringMatching(/^code_/), code: expect.stringMatching(TOPUP_CODE_PATTERN), amount: 1, expiresAt: null }]);

    const store = await openStore({ dataDir: dir.path });
    try {
      const person = await new PersonStore(store.db).ensurePerson('redeemer@example.com');
      expect(await new TopupCodeStore(store.db).redeem(person.id, printed[0] ?? '')).toBe(2_500_000);
      await store.db.updateTable('topup_codes').set({ expires_at: Date.now() - 1 }).where('id', '=', made[0]?.id ?? '').execute();
    } finally {
      await store.close();
    }

    const list = await runMoongate(['code', 'list', '--json'], env());
    expect(list.code, list.stderr).toBe(0);
    const listed = JSON.parse(list.stdout) as TopupCodeListing[];
    expect(listed.map((c) => c.status).sort()).toEqual(['expired', 'redeemed', 'unused', 'unused']);
    expect(listed.find((c) => c.status === 'redeemed')?.redeemedBy).toMatchObject({ email: 'redeemer@example.com' });
    const table = await runMoongate(['code', 'list'], env());
    expect(table.stdout).toMatch(/code_\S+\s+2\.50 USD\s+redeemed\s+redeemer@example\.com/);
    for (const code of [...printed, made[0]?.code ?? '']) {
      expect(list.stdout).not.toContain(code);
      expect(table.stdout).not.toContain(code);
      expect(table.stdout).not.toContain(code.slice(3, 12));
    }
  });

  it('refuses a zero or negative amount and a bad count', async () => {
    for (const args of [['--amount', '0'], ['--amount', '-1'], ['--amount', '1', '--count', '0'], ['--amount', '1', '--count', '1001']]) {
      const run = await runMoongate(['code', 'create', ...args], env());
      expect(run.code, args.join(' ')).not.toBe(0);
      expect(run.stdout).toBe('');
    }
  });
});
