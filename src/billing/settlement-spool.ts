/**
 * The settlement spool (docs/billing.md, "When the store is down"): a local append-only
 * JSONL file holding the settlements the store could not take yet, one per line, fsync'd
 * before the request that produced it may end. It is read back and replayed when the
 * server starts, before it listens, and emptied once everything in it has landed.
 *
 * It is a local file even on PostgreSQL: its point is to survive the store being away.
 * Every server process needs its own (one DATA_DIR, or MOONGATE_SETTLEMENT_SPOOL, each).
 */
import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Settlement } from './settlement-batcher.js';

export interface SpoolContents {
  settlements: Settlement[];
  /** Lines that were not a settlement (a line torn by a crash mid-write): skipped. */
  unreadable: number;
}

export class SettlementSpool {
  #handle: FileHandle | undefined;
  /**
   * Whether the file may end in the middle of a line: a crash tore the last append of the
   * process before, or one of this process's appends failed part way (a full disk). The next
   * append then starts with a line break, so its first line is not glued to the torn one
   * and lost with it at replay (reading skips the empty line).
   */
  #mayBeTorn = true;
  /** File operations run one after another: an append never interleaves with a truncation. */
  #chain: Promise<void> = Promise.resolve();

  constructor(readonly path: string) {}

  /** Appends the settlements and waits until they are on disk (fsync). */
  append(settlements: readonly Settlement[]): Promise<void> {
    return this.#run(async () => {
      const handle = await this.#open();
      const bytes = spoolLines(settlements, this.#mayBeTorn);
      this.#mayBeTorn = true;
      // A write may take less than it was given (a nearly full disk): the rest follows.
      for (let at = 0; at < bytes.length; ) {
        const { bytesWritten } = await handle.write(bytes, at);
        if (bytesWritten <= 0) throw new Error('the settlement spool took no bytes');
        at += bytesWritten;
      }
      await handle.sync();
      this.#mayBeTorn = false;
    });
  }

  /** Empties the file: everything in it has landed in the store. */
  clear(): Promise<void> {
    return this.#run(async () => {
      const handle = await this.#open();
      await handle.truncate(0);
      await handle.sync();
      this.#mayBeTorn = false;
    });
  }

  /** Every settlement in the file (none when there is no file). */
  async read(): Promise<SpoolContents> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { settlements: [], unreadable: 0 };
      throw error;
    }
    return parseSpoolText(text);
  }

  async close(): Promise<void> {
    await this.#chain;
    await this.#handle?.close();
    this.#handle = undefined;
  }

  #run(work: () => Promise<void>): Promise<void> {
    const done = this.#chain.then(work);
    this.#chain = done.catch(() => undefined);
    return done;
  }

  async #open(): Promise<FileHandle> {
    if (this.#handle === undefined) {
      await mkdir(dirname(this.path), { recursive: true });
      // 'a': every write goes to the end, whatever a truncation did before it.
      this.#handle = await open(this.path, 'a', 0o600);
    }
    return this.#handle;
  }
}

/**
 * Settlements as the spool's (and the journal's) lines, for one write: a crash tears at most
 * the last line, which reading skips. `mayBeTorn`: the file may end in a torn line, so the
 * first line starts after a line break of its own (reading skips the empty line).
 */
export function spoolLines(settlements: readonly Settlement[], mayBeTorn: boolean): Buffer {
  let text = mayBeTorn ? '\n' : '';
  for (const settlement of settlements) text += `${JSON.stringify(settlement)}\n`;
  return Buffer.from(text);
}

/**
 * The settlements of a spool's (or the journal's) text, one per line. A settlement found twice
 * (spooled again after a failed retry, or in the journal and the spool) counts once.
 */
export function parseSpoolText(text: string): SpoolContents {
  const settlements: Settlement[] = [];
  const seen = new Set<string>();
  let unreadable = 0;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const settlement = parseSettlement(line);
    if (settlement === undefined) unreadable++;
    else if (!seen.has(settlement.usage.trace_id)) {
      seen.add(settlement.usage.trace_id);
      settlements.push(settlement);
    }
  }
  return { settlements, unreadable };
}

/** A line back into a settlement, checking the fields money depends on; undefined if it is not one. */
function parseSettlement(line: string): Settlement | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { usage, walletId, held } = value as Record<string, unknown>;
  if (typeof usage !== 'object' || usage === null) return undefined;
  const row = usage as Record<string, unknown>;
  const integer = (field: unknown): boolean => typeof field === 'number' && Number.isSafeInteger(field);
  if (typeof row.trace_id !== 'string' || !integer(row.created_at) || !integer(row.cost) || typeof row.person_id !== 'string') return undefined;
  if (walletId !== null && typeof walletId !== 'string') return undefined;
  if (!integer(held)) return undefined;
  return value as Settlement;
}
