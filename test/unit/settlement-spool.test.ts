/**
 * The settlement spool on a real file: an append after a torn line (a crash mid-write, a
 * full disk) is not glued to it and lost with it at replay.
 */
import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { Settlement } from '../../src/billing/settlement-batcher.js';
import { SettlementSpool } from '../../src/billing/settlement-spool.js';
import { useTempDir } from '../helpers/temp-dir.js';

const dir = useTempDir();

function settlement(traceId: string): Settlement {
  return {
    walletId: 'per_1',
    held: 500,
    usage: {
      trace_id: traceId,
      created_at: 1_700_000_000_000,
      person_id: 'per_1',
      credential_id: 'cred_1',
      service_id: 'svc_kimi',
      wallet_id: 'per_1',
      model: 'kimi-k2.5',
      stream: 'false',
      status: 'completed',
      error_code: null,
      prompt_tokens: 9,
      cached_tokens: 0,
      cache_write_tokens: 0,
      completion_tokens: 10,
      cost: 120,
      duration_ms: 5,
      ttft_ms: 1,
      channel: 'simulator',
    },
  };
}

it('keeps a settlement appended after a line a crash tore, and skips only the torn line', async () => {
  const path = join(dir.path, 'spool-torn.jsonl');
  const before = new SettlementSpool(path);
  await before.append([settlement('trace-1')]);
  await before.close();
  // The process dies half way through its next append.
  await appendFile(path, JSON.stringify(settlement('trace-2')).slice(0, 40));
  const next = new SettlementSpool(path);
  await next.append([settlement('trace-3')]);
  await next.append([settlement('trace-4')]);
  const { settlements, unreadable } = await next.read();
  expect(settlements.map((s) => s.usage.trace_id)).toEqual(['trace-1', 'trace-3', 'trace-4']);
  expect(unreadable).toBe(1);
  // A line break before the first append of each process, none between appends after it.
  const json = (traceId: string): string => JSON.stringify(settlement(traceId));
  expect((await readFile(path, 'utf8')).split('\n')).toEqual(['', json('trace-1'), json('trace-2').slice(0, 40), json('trace-3'), json('trace-4'), '']);
  await next.clear();
  await next.append([settlement('trace-5')]);
  expect((await readFile(path, 'utf8')).split('\n')).toEqual([json('trace-5'), '']);
  await next.close();
});
