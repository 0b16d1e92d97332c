/**
 * The settlement spool on a real file: an append after a torn line (a crash mid-write, a
 * full disk) is not glued to it and lost with it at replay.
 */
import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { Settlement } from '../../src/billing/settlement-batcher.js';
import { SettlementSpool } from '../../src/billing/settlement-spool.js';
import { settlementOf } from '../helpers/settlements.js';
import { useTempDir } from '../helpers/temp-dir.js';

const dir = useTempDir();

const settlement = (traceId: string): Settlement => settlementOf(traceId, { personId: 'per_1', credentialId: 'cred_1' }, 120, 500);

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
