/**
 * The settlement journal (docs/billing.md, "Settlement"): on SQLite a batch's requests are let
 * go once it is journaled, and it commits right after their responses. A process killed in
 * between has the settlement in its journal only; the next start bills it, once.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, expect, it } from 'vitest';
import { BillingAdmitter } from '../../src/billing/billing-admitter.js';
import { HoldLedger } from '../../src/billing/hold-ledger.js';
import { worstCaseCost } from '../../src/billing/price-list.js';
import { PriceBook, seedPrices } from '../../src/billing/price-store.js';
import { SettlementBatcher, type Settlement, type SettlementTrouble } from '../../src/billing/settlement-batcher.js';
import { SettlementJournal } from '../../src/billing/settlement-journal.js';
import { SettlementSpool } from '../../src/billing/settlement-spool.js';
import { startBilling } from '../../src/billing/start-billing.js';
import { findModel } from '../../src/contract/index.js';
import type { AuthenticatedCaller, CappedChatRequest, HoldRequest } from '../../src/gateway/pipeline.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { fundedCredential } from '../helpers/funded-credential.js';
import { ensureBuilt, ROOT } from '../helpers/moongate-cli.js';
import { settlementOf } from '../helpers/settlements.js';
import { useTempDir } from '../helpers/temp-dir.js';

beforeAll(ensureBuilt, 120_000);
const dir = useTempDir();

const BALANCE = 1_000_000;

/**
 * A process that holds, settles with the journal, and is killed (SIGKILL, by itself) in the
 * continuation of its settle(): where a response is written, before the commit that follows.
 */
const CHILD = `
const [dataDir, spoolPath, settlementJson] = process.argv.slice(1);
const dist = (path) => import(new URL(path, process.env.MOONGATE_DIST).href);
const { openStore } = await dist('store/open-store.js');
const { HoldLedger } = await dist('billing/hold-ledger.js');
const { SettlementBatcher } = await dist('billing/settlement-batcher.js');
const { SettlementSpool } = await dist('billing/settlement-spool.js');
const { SettlementJournal } = await dist('billing/settlement-journal.js');
const settlement = JSON.parse(settlementJson);
const store = await openStore({ dataDir });
const ledger = new HoldLedger(store);
await ledger.start();
const wallet = await ledger.hold(settlement.usage.trace_id, { personId: settlement.usage.person_id, applicationId: null }, settlement.held);
if (wallet === null) throw new Error('not held');
const batcher = new SettlementBatcher(store, ledger, { spool: new SettlementSpool(spoolPath), journal: new SettlementJournal(spoolPath + '.journal') });
void batcher.settle(settlement).then(() => {
  process.stdout.write('let go\\n');
  process.kill(process.pid, 'SIGKILL');
});
`;

function runChild(args: string[]): Promise<{ signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, ...args], {
      env: { ...process.env, MOONGATE_DIST: pathToFileURL(join(ROOT, 'dist', '/')).href },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('exit', (_code, signal) => resolve({ signal, stdout, stderr }));
  });
}

interface Ledgered {
  store: Store;
  funded: { personId: string; credentialId: string };
  holds: HoldLedger;
  /** A recent settlement of `funded` (cost 10, held 50), its hold taken. */
  held(traceId: string): Promise<Settlement>;
  /** The trace ids committed for `funded`, read synchronously. */
  committed(): string[];
}

/** A store of its own with a funded person and the holds started, closed after `work`. */
async function withLedger(name: string, work: (ledger: Ledgered) => Promise<void>): Promise<void> {
  const store = await openStore({ dataDir: join(dir.path, name) });
  const holds = new HoldLedger(store);
  try {
    const funded = await fundedCredential(store, `${name}@example.com`, { balance: BALANCE });
    const service = await store.db.selectFrom('services').select('id').executeTakeFirstOrThrow();
    await holds.start();
    const sqlite = store.sqlite;
    if (sqlite === null) throw new Error('not SQLite');
    const committed = sqlite.prepare('select trace_id from usage where person_id = ? order by trace_id').pluck();
    await work({
      store,
      funded,
      holds,
      held: async (traceId) => {
        const s = settlementOf(traceId, funded, 10, 50);
        s.usage.service_id = service.id;
        s.usage.created_at = Date.now();
        expect(await holds.hold(traceId, { personId: funded.personId, applicationId: null }, s.held)).toBe(funded.personId);
        return s;
      },
      committed: () => committed.all(funded.personId) as string[],
    });
  } finally {
    await holds.close();
    await store.close();
  }
}

it('a process killed between a response and its commit: the next start bills it from the journal, once', async () => {
  let store = await openStore({ dataDir: dir.path });
  await seedPrices(store.db);
  const caller = await fundedCredential(store, 'journal@example.com', { balance: BALANCE });
  const service = await store.db.selectFrom('services').select('id').executeTakeFirstOrThrow();
  await store.close();
  const settlement = settlementOf('trace-journaled', caller, 120, 500);
  settlement.usage.service_id = service.id;
  // Recent, or the usage pruner of the next start would take it for old.
  settlement.usage.created_at = Date.now();
  const spoolPath = join(dir.path, 'settlement-spool.jsonl');

  const child = await runChild([dir.path, spoolPath, JSON.stringify(settlement)]);
  expect(child.stderr).toBe('');
  expect(child.stdout).toBe('let go\n');
  expect(child.signal).toBe('SIGKILL');
  // Killed before its commit: no row, no charge; the settlement is in the journal alone.
  store = await openStore({ dataDir: dir.path });
  expect(await store.db.selectFrom('usage').select('trace_id').where('person_id', '=', caller.personId).execute()).toEqual([]);
  expect((await store.db.selectFrom('wallets').select('amount').where('id', '=', caller.personId).executeTakeFirstOrThrow()).amount).toBe(BALANCE);
  expect(await readFile(`${spoolPath}.journal`, 'utf8')).toContain('"trace-journaled"');

  // The next start: into the spool, replayed, charged once; the journal emptied.
  const billing = await startBilling(store, { retentionDays: 30, spoolPath }, (error) => {
    throw error;
  });
  expect(billing.replayedAtStart).toEqual({ found: 1, landed: 1, unreadable: 0 });
  await billing.close();
  expect(await readFile(`${spoolPath}.journal`, 'utf8')).toBe('');
  // And a start after that finds nothing more to bill.
  const again = await startBilling(store, { retentionDays: 30, spoolPath }, (error) => {
    throw error;
  });
  expect(again.replayedAtStart).toEqual({ found: 0, landed: 0, unreadable: 0 });
  await again.close();

  expect(await store.db.selectFrom('usage').select(['trace_id', 'cost']).where('person_id', '=', caller.personId).execute()).toEqual([
    { trace_id: 'trace-journaled', cost: 120 },
  ]);
  expect(await store.db.selectFrom('wallets').select(['amount', 'held']).where('id', '=', caller.personId).executeTakeFirstOrThrow()).toEqual({
    amount: BALANCE - 120,
    held: 0,
  });
  await store.close();
}, 60_000);

it('a hold refused while a let-go batch has not committed yet is tried again once it has', async () => {
  const store = await openStore({ dataDir: join(dir.path, 'refused') });
  try {
    await seedPrices(store.db);
    // Enough for one request's worst case, not two.
    const model = findModel('kimi-k2.5');
    if (model === undefined) throw new Error('no kimi-k2.5');
    const prices = new PriceBook(store.db);
    const price = await prices.get(model.id);
    if (price === undefined) throw new Error('no price');
    const request = { model: model.id, messages: [{ role: 'user', content: 'Hello' }], stream: false, n: 1, max_tokens: 100 } as unknown as CappedChatRequest;
    const worstCase = worstCaseCost(price, 9, 100, 1);
    const funded = await fundedCredential(store, 'tight@example.com', { balance: worstCase + Math.floor(worstCase / 2) });
    const service = await store.db.selectFrom('services').select('id').executeTakeFirstOrThrow();
    const caller: AuthenticatedCaller = { personId: funded.personId, credentialId: funded.credentialId, applicationId: null, serviceId: service.id, global: true };
    const holds = new HoldLedger(store);
    await holds.start();
    const spoolPath = join(dir.path, 'refused', 'spool.jsonl');
    const settlements = new SettlementBatcher(store, holds, { spool: new SettlementSpool(spoolPath), journal: new SettlementJournal(`${spoolPath}.journal`) });
    const admitter = new BillingAdmitter({ prices, holds, settlements });
    const ticket = (traceId: string): HoldRequest => ({ traceId, caller, model, request, promptTokens: 9 });
    const first = await admitter.admit(ticket('trace-first'));
    // The second is admitted in the continuation of the first's settle(), before its commit.
    const second = await first
      .settle({ outcome: 'completed', usage: null, error: null, channel: null, stream: false, ttftMs: null, durationMs: 1 })
      .then(() => admitter.admit(ticket('trace-second')));
    await second.settle({ outcome: 'completed', usage: null, error: null, channel: null, stream: false, ttftMs: null, durationMs: 1 });
    await settlements.close();
    await holds.close();
    const rows = await store.db.selectFrom('usage').select('trace_id').where('person_id', '=', caller.personId).orderBy('trace_id').execute();
    expect(rows.map((r) => r.trace_id)).toEqual(['trace-first', 'trace-second']);
  } finally {
    await store.close();
  }
});

it('journals a small batch and lets it go before its commit; a batch of more than four commits first, unjournaled', async () => {
  await withLedger('sizes', async ({ store, funded, holds, held, committed }) => {
    const spoolPath = join(dir.path, 'sizes', 'spool.jsonl');
    const settlements = new SettlementBatcher(store, holds, { spool: new SettlementSpool(spoolPath), journal: new SettlementJournal(`${spoolPath}.journal`) });
    const settle = async (traceIds: string[]): Promise<string[]> => {
      const batch: Settlement[] = [];
      for (const traceId of traceIds) batch.push(await held(traceId));
      // All settled in the same turn: one batch. What is committed when they are let go.
      return Promise.all(batch.map((s) => settlements.settle(s))).then(committed);
    };
    const journaled = async (): Promise<string> => readFile(`${spoolPath}.journal`, 'utf8').catch(() => '');

    // One: let go before its commit, from the journal.
    expect(await settle(['small-1'])).toEqual([]);
    expect(await journaled()).toContain('"small-1"');
    // Five: committed before they are let go, and not journaled.
    const large = ['large-1', 'large-2', 'large-3', 'large-4', 'large-5'];
    expect(await settle(large)).toEqual([...large, 'small-1']);
    for (const traceId of large) expect(await journaled()).not.toContain(`"${traceId}"`);
    await settlements.close();
    // A clean stop leaves no journal to replay.
    expect(await journaled()).toBe('');
    expect(await store.db.selectFrom('wallets').select(['amount', 'held']).where('id', '=', funded.personId).executeTakeFirstOrThrow()).toEqual({
      amount: BALANCE - 60,
      held: 0,
    });
  });
});

it('a journal that cannot be written: said once, and the batches commit first, billed as ever', async () => {
  await withLedger('unwritable', async ({ store, holds, held, committed }) => {
    const troubles: SettlementTrouble[] = [];
    // A directory where the journal's file should be: every open fails (EISDIR).
    const settlements = new SettlementBatcher(store, holds, {
      spool: new SettlementSpool(join(dir.path, 'unwritable', 'spool.jsonl')),
      journal: new SettlementJournal(join(dir.path, 'unwritable')),
      onTrouble: (trouble) => troubles.push(trouble),
    });
    const seen: string[][] = [];
    // Each committed by the time it is let go.
    for (const traceId of ['unwritable-1', 'unwritable-2', 'unwritable-3']) seen.push(await settlements.settle(await held(traceId)).then(committed));
    expect(seen).toEqual([['unwritable-1'], ['unwritable-1', 'unwritable-2'], ['unwritable-1', 'unwritable-2', 'unwritable-3']]);
    expect(troubles.map((t) => t.kind)).toEqual(['journal']);
    await settlements.close();
  });
});
