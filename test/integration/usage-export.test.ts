/**
 * Usage leaves the building: 100,000 rows exported on each dialect, a page at a time, with
 * the process's RSS flat, every row exactly once across page boundaries even while new rows
 * arrive; the CLI's `--format csv|jsonl` and the console's CSV download have the same columns.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { listUsage } from '../../src/billing/usage-summaries.js';
import { seedPrices } from '../../src/billing/price-store.js';
import { CSV_HEADER, EXPORT_PAGE_SIZE, USAGE_EXPORT_COLUMNS, csvLine, exportUsage } from '../../src/billing/usage-export.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { KIMI_SERVICE } from '../../src/store/seed-services.js';
import { fundedCredential, type FundedCredential } from '../helpers/funded-credential.js';
import { ensureBuilt, runMoongate } from '../helpers/moongate-cli.js';
import { describeEachDialect } from '../helpers/postgres.js';

const ROWS = 100_000;

// A full collection before each memory reading, so what is measured is what the export keeps alive.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;
const T0 = Date.UTC(2026, 10, 1);

describeEachDialect((target) => {
  let store: Store;
  let caller: FundedCredential;
  let other: FundedCredential;
  let serviceId: string;

  /** Usage rows written straight through the store (the gateway's settlement is not what is tested). */
  async function insertRows(owner: FundedCredential, from: number, count: number, at: (i: number) => number, prefix = 'exp'): Promise<void> {
    const BATCH = 1_000;
    for (let start = from; start < from + count; start += BATCH) {
      const values = [];
      for (let i = start; i < Math.min(from + count, start + BATCH); i++) {
        values.push({
          trace_id: `${prefix}-${String(i).padStart(6, '0')}`,
          created_at: at(i),
          person_id: owner.personId,
          credential_id: owner.credentialId,
          service_id: serviceId,
          wallet_id: owner.personId,
          model: i % 3 === 0 ? 'kimi-k2-thinking' : 'kimi-k2.5',
          stream: i % 2 === 0 ? ('true' as const) : ('false' as const),
          status: i % 10 === 0 ? ('failed' as const) : ('completed' as const),
          error_code: i % 10 === 0 ? 'timeout' : null,
          prompt_tokens: 10 + (i % 7),
          cached_tokens: 0,
          cache_write_tokens: 0,
          completion_tokens: 20,
          cost: 123 + i,
          duration_ms: 100,
          ttft_ms: 30,
          channel: 'simulator',
        });
      }
      await store.db.insertInto('usage').values(values).execute();
    }
  }

  beforeAll(async () => {
    store = await openStore(target.location());
    await seedPrices(store.db);
    caller = await fundedCredential(store, 'exporter@example.com', { balance: 0 });
    other = await fundedCredential(store, 'someone-else@example.com', { balance: 0 });
    serviceId = (await store.db.selectFrom('services').select('id').where('slug', '=', KIMI_SERVICE.slug).executeTakeFirstOrThrow()).id;
    // Many rows share a millisecond, so the trace id must break ties across page boundaries.
    await insertRows(caller, 0, ROWS, (i) => T0 + Math.floor(i / 3));
    await insertRows(other, 0, 50, (i) => T0 + i, 'other');
  }, 240_000);
  afterAll(async () => {
    await store.close();
  });

  it(`exports all ${ROWS.toLocaleString('en-US')} rows exactly once, newest first, with RSS flat, while new rows arrive`, async () => {
    const seen = new Uint8Array(ROWS);
    let pages = 0;
    let bytes = 0;
    let arrived = 0;
    let previous: { createdAt: number; traceId: string } | undefined;
    let rssAfterWarmUp = 0;
    let rssPeak = 0;
    let heapAfterWarmUp = 0;
    let heapPeak = 0;
    for await (const rows of exportUsage(store.db, caller.personId, {})) {
      pages += 1;
      expect(rows.length).toBeLessThanOrEqual(EXPORT_PAGE_SIZE);
      for (const row of rows) {
        // Newest first, strictly: (created_at, trace_id) only goes down.
        if (previous !== undefined) {
          const down = row.createdAt < previous.createdAt || (row.createdAt === previous.createdAt && row.traceId < previous.traceId);
          expect(down, `${row.traceId} after ${previous.traceId}`).toBe(true);
        }
        previous = { createdAt: row.createdAt, traceId: row.traceId };
        const match = /^exp-(\d{6})$/.exec(row.traceId);
        if (match === null) {
          arrived += 1;
          continue;
        }
        const index = Number(match[1]);
        expect(seen[index], row.traceId).toBe(0);
        seen[index] = 1;
        bytes += csvLine(row).length;
      }
      // New rows arrive between pages: newer than the cursor, so they are not in this export.
      if (pages % 40 === 1) await insertRows(caller, ROWS + pages * 10, 10, () => Date.now(), 'new');
      if (pages % 20 === 0) {
        collectGarbage();
        const { rss, heapUsed } = process.memoryUsage();
        if (pages === 20) {
          rssAfterWarmUp = rss;
          heapAfterWarmUp = heapUsed;
        } else {
          rssPeak = Math.max(rssPeak, rss);
          heapPeak = Math.max(heapPeak, heapUsed);
        }
      }
    }
    expect(seen.every((flag) => flag === 1)).toBe(true);
    expect(arrived).toBe(0);
    expect(pages).toBe(ROWS / EXPORT_PAGE_SIZE);
    const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
    console.info(
      `${target.dialect}: ${pages} pages, ${mb(bytes)} of CSV; after 20 pages RSS ${mb(rssAfterWarmUp)}, heap ${mb(heapAfterWarmUp)}; ` +
        `later peaks RSS ${mb(rssPeak)}, heap ${mb(heapPeak)}`,
    );
    // Flat: what stays alive is one page, not the 16 MB export (whose row objects alone
    // would be several times that); RSS, which the allocator gives back lazily, within 24 MB.
    expect(heapPeak - heapAfterWarmUp).toBeLessThan(4_000_000);
    expect(rssPeak - rssAfterWarmUp).toBeLessThan(24_000_000);
  }, 240_000);

  it('filters by credential, model, status and time range, and pages other people out', async () => {
    const page = await listUsage(store.db, caller.personId, { credentialId: other.credentialId });
    expect(page.rows).toEqual([]);
    const theirs = await listUsage(store.db, null, { credentialId: other.credentialId, limit: 500 });
    expect(theirs.rows).toHaveLength(50);
    const failed = await listUsage(store.db, caller.personId, { status: 'failed', model: 'kimi-k2-thinking', since: T0, until: T0 + 30, limit: 500 });
    // i < 90 (created_at = T0 + i/3 < T0 + 30), failed (i % 10 == 0) and thinking (i % 3 == 0): i = 0, 30, 60.
    expect(failed.rows.map((r) => r.traceId)).toEqual(['exp-000060', 'exp-000030', 'exp-000000']);
  });

  it('exports through the CLI as CSV and JSON Lines with the same columns, a progress line on stderr', async () => {
    await ensureBuilt();
    const env = {
      DATA_DIR: store.dialect === 'sqlite' ? target.location().dataDir : target.location().dataDir,
      DATABASE_URL: target.location().databaseUrl,
    };
    const until = new Date(T0 + 400).toISOString();
    const csv = await runMoongate(['usage', '--email', 'exporter@example.com', '--format', 'csv', '--until', until], env);
    expect(csv.code, csv.stderr).toBe(0);
    const lines = csv.stdout.split('\r\n');
    expect(`${lines[0]}\r\n`).toBe(CSV_HEADER);
    expect(lines.at(-1)).toBe('');
    const body = lines.slice(1, -1);
    expect(body).toHaveLength(1_200);
    expect(new Set(body.map((line) => line.split(',')[0])).size).toBe(1_200);
    const newest = body[0]!.split(',');
    expect(newest[0]).toBe('exp-001199');
    expect(newest[USAGE_EXPORT_COLUMNS.indexOf('cost')]).toBe('0.001322');
    expect(csv.stderr).toContain('Exported 1,200 rows');

    const jsonl = await runMoongate(['usage', '--email', 'exporter@example.com', '--format', 'jsonl', '--until', until, '--status', 'failed'], env);
    expect(jsonl.code, jsonl.stderr).toBe(0);
    const records = jsonl.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records).toHaveLength(120);
    expect(Object.keys(records[0]!)).toEqual([...USAGE_EXPORT_COLUMNS]);
    expect(records[0]).toMatchObject({ trace_id: 'exp-001190', status: 'failed', error_code: 'timeout', cost: '0.001313' });
  }, 120_000);
});
