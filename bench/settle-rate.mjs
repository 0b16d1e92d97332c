// Settlements per second on SQLite, with group commit (the default) and without
// (one transaction per settlement). Run after `npm run build`:
//   node bench/settle-rate.mjs [settlements=20000] [concurrency=256] [--json]
// With --json the last line is one JSON object (npm run bench reads it for figure 6).
// Each mode gets a fresh database: N holds are taken, then N settlements run with
// `concurrency` in flight, as finishing requests would; only the settle phase is timed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HoldLedger } from '../dist/billing/hold-ledger.js';
import { SettlementBatcher } from '../dist/billing/settlement-batcher.js';
import { addBalance } from '../dist/billing/wallet-store.js';
import { PersonStore } from '../dist/accounts/person-store.js';
import { CredentialStore } from '../dist/accounts/credential-store.js';
import { openStore } from '../dist/store/open-store.js';

const json = process.argv.includes('--json');
const [totalArg, concurrencyArg] = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
const total = Number(totalArg ?? 20_000);
const concurrency = Number(concurrencyArg ?? 256);

async function run(label, batcherOptions) {
  const dir = mkdtempSync(join(tmpdir(), 'moongate-bench-'));
  const store = await openStore({ dataDir: dir });
  try {
    const person = await new PersonStore(store.db).ensurePerson('bench@example.com');
    const { credential } = await new CredentialStore(store.db).issueCredential({ personId: person.id, global: true });
    await addBalance(store.db, person.id, 1_000_000_000_000);
    const holds = new HoldLedger(store);
    await holds.start();
    const holdStart = performance.now();
    for (let i = 0; i < total; i++) await holds.hold(`trace-${i}`, { personId: person.id, applicationId: null }, 1_000);
    const holdSeconds = (performance.now() - holdStart) / 1000;
    const batcher = new SettlementBatcher(store, holds, batcherOptions);
    let next = 0;
    const worker = async () => {
      while (next < total) {
        const i = next++;
        await batcher.settle({
          walletId: person.id,
          held: 1_000,
          usage: {
            trace_id: `trace-${i}`,
            created_at: Date.now(),
            person_id: person.id,
            credential_id: credential.id,
            service_id: 'svc_bench',
            wallet_id: person.id,
            model: 'kimi-k2.5',
            stream: 'true',
            status: 'completed',
            error_code: null,
            prompt_tokens: 9,
            cached_tokens: 0,
            cache_write_tokens: 0,
            completion_tokens: 184,
            cost: 558,
            duration_ms: 100,
            ttft_ms: 20,
            channel: 'simulator',
          },
        });
      }
    };
    const start = performance.now();
    await Promise.all(Array.from({ length: concurrency }, worker));
    const seconds = (performance.now() - start) / 1000;
    const wallet = await store.db.selectFrom('wallets').select(['amount', 'held']).where('id', '=', person.id).executeTakeFirstOrThrow();
    if (wallet.held !== 0 || wallet.amount !== 1_000_000_000_000 - total * 558) throw new Error(`the bench settled wrongly: ${JSON.stringify(wallet)}, expected amount ${1_000_000_000_000 - total * 558}`);
    await holds.close();
    const rate = Math.round(total / seconds);
    console.log(
      `${label.padEnd(26)} ${Math.round(total / seconds).toString().padStart(7)} settlements/s  (${total} in ${seconds.toFixed(2)} s, ${concurrency} in flight; holds alone: ${Math.round(total / holdSeconds)}/s sequential)`,
    );
    return rate;
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`SQLite (WAL, synchronous=NORMAL), node ${process.version}`);
const grouped = await run('group commit (<= 256)', {});
const single = await run('one transaction each', { maxDelayMs: 0 });
if (json) console.log(JSON.stringify({ settledPerSecond: grouped, oneTransactionEachPerSecond: single, settlements: total, concurrency }));
