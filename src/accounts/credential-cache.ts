/**
 * What authentication read about a credential, kept for a moment so the next request with
 * the same token skips the query (issue 20). Keyed by the service and the token's SHA-256,
 * never by the token itself. Only the row is kept: SPEC.md's checks (expiry, status, the
 * service) run on every request against it, and no balance is cached (holds read the store).
 *
 * A change must not be outlived (docs/security.md, "Credential cache"):
 * - the console and admin APIs publish on the change bus, which drops the entries it names
 *   here at once, and on every replica with REDIS_URL;
 * - the CLI runs in another process and, without Redis, cannot reach the bus, so every
 *   entry also expires after `ttlMs` (1 s): a change from there applies within that.
 * A lookup that started before a drop does not store what it read (its row may predate the
 * change): the cache counts drops, and a fill from an older count is ignored.
 */
import type { Change, ChangeBus } from '../limits/change-bus.js';

export interface CachedCredentialRow {
  id: string;
  person_id: string;
}

export interface CredentialCacheOptions {
  /** Most entries kept; past it the oldest not read since it was last passed over goes (see `#entries`). */
  maxEntries?: number;
  /** How long an entry is trusted without a word from the bus (a change from the CLI). */
  ttlMs?: number;
  /** Milliseconds; Date.now by default (tests move it by hand). */
  now?: () => number;
}

export const DEFAULT_CREDENTIAL_CACHE_TTL_MS = 1_000;
const DEFAULT_MAX_ENTRIES = 10_000;

interface Entry<Row> {
  row: Row;
  expiresAt: number;
  /** Read since it was last passed over for eviction (its second chance). */
  used: boolean;
}

export class CredentialCache<Row extends CachedCredentialRow = CachedCredentialRow> {
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  readonly #now: () => number;
  /**
   * Insertion order, with a second chance for what was read (CLOCK, an approximation of least
   * recently used): a hit only marks its entry, and eviction moves a marked entry to the end
   * instead of dropping it. A hit that moved its entry (a delete and a set) on this
   * long-lived Map had V8 allocate it a new table in the old generation at every request
   * with one token in use (docs/benchmark.md, "Old-space garbage").
   */
  readonly #entries = new Map<string, Entry<Row>>();
  #drops = 0;

  constructor(options: CredentialCacheOptions = {}) {
    this.#maxEntries = Math.max(1, options.maxEntries ?? DEFAULT_MAX_ENTRIES);
    this.#ttlMs = options.ttlMs ?? DEFAULT_CREDENTIAL_CACHE_TTL_MS;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The count of drops so far; pass it to set() so a fill that raced a drop is ignored. */
  get generation(): number {
    return this.#drops;
  }

  get(key: string): Row | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    entry.used = true;
    return entry.row;
  }

  /** Keeps a row read when the cache's generation was `generation`; ignored if anything was dropped since. */
  set(key: string, row: Row, generation: number): void {
    if (generation !== this.#drops) return;
    this.#entries.delete(key);
    this.#entries.set(key, { row, expiresAt: this.#now() + this.#ttlMs, used: false });
    if (this.#entries.size > this.#maxEntries) this.#evictOne();
  }

  /** Drops the oldest entry not read since it was last passed over; a read one goes to the end, unmarked. */
  #evictOne(): void {
    // Each pass unmarks what it moves, so the second pass at the latest finds one to drop.
    for (const [key, entry] of this.#entries) {
      if (!entry.used) {
        this.#entries.delete(key);
        return;
      }
      entry.used = false;
      this.#entries.delete(key);
      this.#entries.set(key, entry);
    }
  }

  /** Drops what a change names: its credential, every credential of its person, or everything. */
  drop(change: Change): void {
    if (change.kind === 'model') return;
    this.#drops++;
    if (change.kind === 'all') {
      this.#entries.clear();
      return;
    }
    const field = change.kind === 'credential' ? 'id' : 'person_id';
    for (const [key, entry] of this.#entries) if (entry.row[field] === change.id) this.#entries.delete(key);
  }

  /** Listens to the bus; returns the function that stops listening. */
  listen(bus: Pick<ChangeBus, 'subscribe'>): () => void {
    return bus.subscribe((change) => this.drop(change));
  }
}
