/**
 * Crash safety: a real `moongate serve` child is killed with SIGKILL while streams run.
 * What it held is left in the database; a new process on the same data directory releases
 * them at start-up, and every response a client received complete (up to [DONE]) has
 * exactly one usage row, because its settlement is committed, or in the settlement journal
 * (replayed at the next start), before the terminator is sent.
 */
import { beforeAll, expect, it } from 'vitest';
import { openStore } from '../../src/store/open-store.js';
import { fundedCredential } from '../helpers/funded-credential.js';
import { ensureBuilt, serveMoongate } from '../helpers/moongate-cli.js';
import { useTempDir } from '../helpers/temp-dir.js';

beforeAll(ensureBuilt, 120_000);
const dir = useTempDir();

const BALANCE = 1_000_000_000;

it('after SIGKILL and a restart no hold remains, and every complete response was billed once', async () => {
  const env = { DATA_DIR: dir.path, DATABASE_URL: undefined, MOONGATE_SIM_TTFT_MS: '0', MOONGATE_SIM_TOKENS_PER_S: '2000' };
  let store = await openStore({ dataDir: dir.path });
  const caller = await fundedCredential(store, 'crash@example.com', { balance: BALANCE, rps: 10_000, concurrency: 10_000 });
  await store.close();

  const first = await serveMoongate(env);
  const complete: string[] = [];
  let broken = 0;
  let stop = false;
  const body = JSON.stringify({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Tell me a story' }], stream: true, max_tokens: 200 });
  const worker = async (): Promise<void> => {
    while (!stop) {
      try {
        const res = await fetch(`${first.url}/kimi/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${caller.token}` },
          body,
        });
        const text = await res.text();
        const traceId = res.headers.get('x-trace-id');
        if (res.status === 200 && text.includes('data: [DONE]') && traceId !== null) complete.push(traceId);
      } catch {
        broken += 1;
        return;
      }
    }
  };
  const workers = Array.from({ length: 12 }, worker);
  // Under load: wait for a good number of complete responses, then kill mid-flight.
  for (let i = 0; i < 3_000 && complete.length < 30; i++) await new Promise((r) => setTimeout(r, 10));
  first.child.kill('SIGKILL');
  expect(await first.exited).toBe('SIGKILL');
  stop = true;
  await Promise.all(workers);
  expect(complete.length).toBeGreaterThanOrEqual(30);
  expect(broken).toBeGreaterThan(0);

  // The crash left money held (by the requests that were running).
  store = await openStore({ dataDir: dir.path });
  const left = await store.db.selectFrom('wallets').select('held').where('id', '=', caller.personId).executeTakeFirstOrThrow();
  expect(left.held).toBeGreaterThan(0);
  await store.close();

  const second = await serveMoongate(env);
  try {
    store = await openStore({ dataDir: dir.path });
    try {
      const wallet = await store.db.selectFrom('wallets').select(['amount', 'held']).where('id', '=', caller.personId).executeTakeFirstOrThrow();
      expect(wallet.held).toBe(0);
      const rows = await store.db.selectFrom('usage').select(['trace_id', 'cost']).where('person_id', '=', caller.personId).execute();
      const count = new Map<string, number>();
      for (const row of rows) count.set(row.trace_id, (count.get(row.trace_id) ?? 0) + 1);
      for (const traceId of complete) expect(count.get(traceId), traceId).toBe(1);
      // Whatever was billed came off the balance, and nothing else did.
      expect(wallet.amount).toBe(BALANCE - rows.reduce((sum, r) => sum + r.cost, 0));
      console.info(
        `crash: ${complete.length} complete responses, ${broken} cut by SIGKILL, ${left.held} µ left held by the crash and released at restart, ${rows.length} usage rows`,
      );
    } finally {
      await store.close();
    }
    // A second live server on the same SQLite file would reset what this one holds: refused.
    await expect(serveMoongate(env)).rejects.toThrow(/another moongate server \(pid \d+\) is using this SQLite database/);
  } finally {
    second.child.kill('SIGTERM');
    await second.exited;
  }
}, 120_000);
