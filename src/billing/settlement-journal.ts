/**
 * The settlement journal (docs/billing.md, "The settlement journal (SQLite)"): on SQLite, a
 * small batch of settlements is appended here, in one write and without an fsync, before its
 * requests are let go, and committed to the store right after their responses were written,
 * in the same turn of the event loop (SettlementBatcher).
 * So a lone request's response does not wait for a commit (four pages written to the WAL,
 * six file locks: about a third of the time moongate adds to it), and a response whose
 * process is killed before its commit is still billed: the journal is read back at the next
 * start (into the spool, then replayed, each settlement once).
 *
 * The write gives what a commit under `synchronous = NORMAL` gives: it survives the process,
 * not the machine. The file is emptied once what it holds has landed and it has grown past
 * a size (one truncation every few thousand requests, not one per request).
 */
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Settlement } from './settlement-batcher.js';
import { parseSpoolText, spoolLines, type SpoolContents } from './settlement-spool.js';

/** Emptied once everything in it landed and it holds at least this much. */
const CLEAR_AT_BYTES = 1 << 20;

export class SettlementJournal {
  #fd: number | undefined;
  #bytes = 0;
  /** As the spool's: the file may end in a torn line (a crash mid-write, a failed write). */
  #mayBeTorn = true;

  constructor(
    readonly path: string,
    private readonly clearAtBytes = CLEAR_AT_BYTES,
  ) {}

  /** Appends the settlements (one write for the lot); throws if the file does not take them whole. */
  append(settlements: readonly Settlement[]): void {
    const bytes = spoolLines(settlements, this.#mayBeTorn);
    const fd = this.#open();
    this.#mayBeTorn = true;
    for (let at = 0; at < bytes.length; ) {
      const written = writeSync(fd, bytes, at);
      if (written <= 0) throw new Error('the settlement journal took no bytes');
      at += written;
    }
    this.#bytes += bytes.length;
    this.#mayBeTorn = false;
  }

  /** Everything appended so far has landed in the store: the file may be emptied. */
  landed(): void {
    if (this.#bytes >= this.clearAtBytes) this.clear();
  }

  /** Empties the file. */
  clear(): void {
    ftruncateSync(this.#open(), 0);
    this.#bytes = 0;
    this.#mayBeTorn = false;
  }

  /** What a previous process left in the file (nothing when there is no file). */
  read(): SpoolContents {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { settlements: [], unreadable: 0 };
      throw error;
    }
    return parseSpoolText(text);
  }

  close(): void {
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
  }

  #open(): number {
    if (this.#fd === undefined) {
      mkdirSync(dirname(this.path), { recursive: true });
      // 'a': every write goes to the end, whatever a truncation did before it.
      this.#fd = openSync(this.path, 'a', 0o600);
    }
    return this.#fd;
  }
}
