/**
 * The operator's billing commands, run as the real `moongate` binary: balance, prices,
 * usage, credential limits and the free quota of a person the CLI creates.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { PersonStore } from '../../src/accounts/person-store.js';
import { defaultFreeQuota } from '../../src/billing/price-list.js';
import { openStore } from '../../src/store/open-store.js';
import { ensureBuilt, runMoongate } from '../helpers/moongate-cli.js';
import { useTempDir } from '../helpers/temp-dir.js';

beforeAll(ensureBuilt, 120_000);
const dir = useTempDir();
const env = () => ({ DATA_DIR: dir.path, DATABASE_URL: undefined });

describe('moongate balance', () => {
  it('adds in the currency and shows micro-units with --json', async () => {
    const add = await runMoongate(['balance', 'add', '--email', 'Payer@Example.com', '--amount', '5.00'], env());
    expect(add.code, add.stderr).toBe(0);
    expect(add.stderr).toContain('Added 5.00 USD to payer@example.com; balance 5.00 USD');
    await runMoongate(['balance', 'add', '--email', 'payer@example.com', '--amount', '0.000001'], env());
    const show = await runMoongate(['balance', 'show', '--email', 'payer@example.com', '--json'], env());
    expect(JSON.parse(show.stdout)).toEqual({ quota: 0, balance: 5_000_001, held: 0, currency: 'USD' });
    const table = await runMoongate(['balance', 'show', '--email', 'payer@example.com'], env());
    expect(table.stdout).toMatch(/balance\s+5\.000001 USD/);
  });

  it('refuses an amount with more than 6 decimals, and an unknown person', async () => {
    const bad = await runMoongate(['balance', 'add', '--email', 'payer@example.com', '--amount', '1.0000001'], env());
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('6 decimals');
    const nobody = await runMoongate(['balance', 'show', '--email', 'nobody@example.com'], env());
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toContain('no person has the email nobody@example.com');
  });
});

describe('moongate credential create', () => {
  it('gives a new person the free quota, once, and sets limits', async () => {
    const first = await runMoongate(['credential', 'create', '--email', 'new@example.com', '--rps', '5', '--concurrency', '3'], env());
    expect(first.code, first.stderr).toBe(0);
    await runMoongate(['credential', 'create', '--email', 'new@example.com'], env());
    const show = await runMoongate(['balance', 'show', '--email', 'new@example.com', '--json'], env());
    expect(JSON.parse(show.stdout)).toMatchObject({ quota: defaultFreeQuota(), balance: 0 });
    const list = JSON.parse((await runMoongate(['credential', 'list', '--email', 'new@example.com', '--json'], env())).stdout) as Array<{
      id: string;
      rpsLimit: number | null;
      concurrencyLimit: number | null;
    }>;
    expect(list.map((c) => [c.rpsLimit, c.concurrencyLimit])).toEqual([
      [5, 3],
      [null, null],
    ]);
    const changed = await runMoongate(['credential', 'limits', list[1]?.id ?? '', '--rps', '7'], env());
    expect(changed.stderr).toContain('7 rps, default concurrent');
  });

  it('takes the free quota from MOONGATE_FREE_QUOTA', async () => {
    await runMoongate(['credential', 'create', '--email', 'frugal@example.com'], { ...env(), MOONGATE_FREE_QUOTA: '1.50' });
    const show = await runMoongate(['balance', 'show', '--email', 'frugal@example.com', '--json'], env());
    expect(JSON.parse(show.stdout)).toMatchObject({ quota: 1_500_000 });
  });
});

describe('moongate price', () => {
  it('lists the seeded prices and sets one', async () => {
    const list = JSON.parse((await runMoongate(['price', 'list', '--json'], env())).stdout) as unknown[];
    expect(list).toContainEqual({ model: 'kimi-k2.5', cachedInput: 100_000, input: 600_000, output: 3_000_000, cacheWrite: 600_000 });
    // The seed's seven and Moonshot's current four (docs/models.md).
    expect(list).toHaveLength(7 + 4);
    expect(list).toContainEqual({ model: 'kimi-k3', cachedInput: 300_000, input: 3_000_000, output: 15_000_000, cacheWrite: 3_000_000 });
    const set = await runMoongate(['price', 'set', 'kimi-k2.5', '--output', '4.00'], env());
    expect(set.code, set.stderr).toBe(0);
    const table = await runMoongate(['price', 'list'], env());
    expect(table.stdout).toMatch(/kimi-k2\.5\s+0\.10\s+0\.60\s+4\.00\s+0\.60/);
    const cacheWrite = await runMoongate(['price', 'set', 'kimi-k2.5', '--cache-write', '1.20'], env());
    expect(cacheWrite.code, cacheWrite.stderr).toBe(0);
    const after = JSON.parse((await runMoongate(['price', 'list', '--json'], env())).stdout) as unknown[];
    expect(after).toContainEqual({ model: 'kimi-k2.5', cachedInput: 100_000, input: 600_000, output: 4_000_000, cacheWrite: 1_200_000 });
    const unknown = await runMoongate(['price', 'set', 'gpt-4', '--output', '1'], env());
    expect(unknown.code).toBe(1);
  });
});

describe('moongate usage', () => {
  it('prints the rows as a table and as JSON with micro-units', async () => {
    const store = await openStore({ dataDir: dir.path });
    try {
      const person = await new PersonStore(store.db).findPersonByEmail('new@example.com');
      const credential = await store.db.selectFrom('credentials').select(['id', 'service_id']).where('person_id', '=', person?.id ?? '').executeTakeFirstOrThrow();
      const base = {
        person_id: person?.id ?? '',
        credential_id: credential.id,
        service_id: credential.service_id ?? '',
        wallet_id: null,
        model: 'kimi-k2.5',
        stream: 'false' as const,
        cached_tokens: 0,
        cache_write_tokens: 0,
        duration_ms: 120,
        ttft_ms: 40,
        channel: 'simulator',
      };
      await store.db
        .insertInto('usage')
        .values([
          { ...base, trace_id: 't-old', created_at: Date.now() - 3 * 86_400_000, status: 'completed', error_code: null, prompt_tokens: 1, completion_tokens: 1, cost: 4 },
          { ...base, trace_id: 't-ok', created_at: Date.now() - 1000, status: 'completed', error_code: null, prompt_tokens: 9, completion_tokens: 184, cost: 558 },
          { ...base, trace_id: 't-fail', created_at: Date.now() - 500, status: 'failed', error_code: 'timeout', prompt_tokens: 0, completion_tokens: 0, cost: 0 },
        ])
        .execute();
    } finally {
      await store.close();
    }
    const json = JSON.parse((await runMoongate(['usage', '--email', 'new@example.com', '--json'], env())).stdout) as Array<Record<string, unknown>>;
    expect(json.map((r) => [r.trace_id, r.model, r.status, r.prompt_tokens, r.completion_tokens, r.cost])).toEqual([
      ['t-fail', 'kimi-k2.5', 'failed', 0, 0, 0],
      ['t-ok', 'kimi-k2.5', 'completed', 9, 184, 558],
    ]);
    const week = JSON.parse((await runMoongate(['usage', '--email', 'new@example.com', '--since', '1w', '--json'], env())).stdout) as unknown[];
    expect(week).toHaveLength(3);
    const table = await runMoongate(['usage', '--email', 'new@example.com'], env());
    expect(table.stdout).toMatch(/^TIME\s+MODEL\s+STATUS/);
    expect(table.stdout).toMatch(/kimi-k2\.5\s+completed\s+9\s+0\s+0\s+184\s+0\.000558/);
    expect(table.stdout).toMatch(/CACHED\s+CACHE WRITE\s+COMPLETION/);
    expect(table.stdout).toContain('failed (timeout)');
  });
});
