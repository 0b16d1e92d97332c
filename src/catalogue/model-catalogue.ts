/**
 * The model catalogue as the hot path reads it: every row in memory, a Map lookup per
 * request and no query. It reloads when the catalogue changes, on every replica, with or
 * without Redis:
 * - a `{kind: 'model'}` (or `'all'`) message on the change bus (the admin API publishes one;
 *   with REDIS_URL every replica hears it within milliseconds);
 * - a poll of the catalogue version (one row) every `pollMs`, 1 s by default: the CLI runs
 *   in another process and may have no bus to speak on, so a change it makes applies
 *   within about a second;
 * - the gateway's refresh() before it answers "unknown model", so a model just added is
 *   served at once (one small query, only on that error path, after the credential and
 *   limits checks).
 * Reloads are coalesced: callers at once share one query.
 */
import type { Kysely } from 'kysely';
import type { KimiModel, ModelLookup } from '../contract/index.js';
import type { ChangeBus } from '../limits/change-bus.js';
import type { Database } from '../store/database.js';
import { readCatalogueVersion, readModelRows } from '../store/model-rows.js';

export const CATALOGUE_POLL_MS = 1_000;

export interface CatalogueTimers {
  setInterval(callback: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

const NODE_TIMERS: CatalogueTimers = {
  setInterval: (callback, ms) => setInterval(callback, ms).unref(),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
};

export interface CatalogueOptions {
  changes?: ChangeBus;
  pollMs?: number;
  /** Injected by tests (fake timers); Node's, unref'd, by default. */
  timers?: CatalogueTimers;
  /** A poll or a reload failed (the store is away): the rows in memory stay in use. */
  onError?: (error: unknown) => void;
}

export class ModelCatalogue implements ModelLookup {
  #byId = new Map<string, KimiModel>();
  #listed: readonly KimiModel[] = [];
  #all: readonly KimiModel[] = [];
  #version = -1;
  #refreshing: Promise<void> | undefined;
  /** A bus message arrived during a refresh: refresh once more after it. */
  #again = false;
  #reloadWaiters: Array<() => void> = [];
  readonly #unsubscribe: (() => void) | undefined;
  readonly #timer: unknown;
  readonly #timers: CatalogueTimers;

  private constructor(
    private readonly db: Kysely<Database>,
    private readonly options: CatalogueOptions,
  ) {
    this.#timers = options.timers ?? NODE_TIMERS;
    this.#unsubscribe = options.changes?.subscribe((change) => {
      if (change.kind === 'model' || change.kind === 'all') this.#refreshNow(true);
    });
    this.#timer = this.#timers.setInterval(() => this.#refreshNow(false), options.pollMs ?? CATALOGUE_POLL_MS);
  }

  /** Loads the rows, then keeps them fresh until close(). */
  static async open(db: Kysely<Database>, options: CatalogueOptions = {}): Promise<ModelCatalogue> {
    const catalogue = new ModelCatalogue(db, options);
    try {
      await catalogue.refresh();
    } catch (error) {
      catalogue.close();
      throw error;
    }
    return catalogue;
  }

  find(id: string): KimiModel | undefined {
    return this.#byId.get(id);
  }

  listed(): readonly KimiModel[] {
    return this.#listed;
  }

  /** Every row, in catalogue order (the admin API and the console's Models tab). */
  all(): readonly KimiModel[] {
    return this.#all;
  }

  /** Reads the version; reloads the rows when it moved. Coalesced. */
  refresh(): Promise<void> {
    return this.#refreshing ?? this.#run(false);
  }

  /** Resolves after the next reload of the rows (tests: "this replica has heard the change"). */
  nextReload(): Promise<void> {
    return new Promise((resolve) => this.#reloadWaiters.push(resolve));
  }

  close(): void {
    this.#unsubscribe?.();
    this.#timers.clearInterval(this.#timer);
  }

  #refreshNow(forced: boolean): void {
    if (this.#refreshing !== undefined) {
      // The running refresh may have read the version before the change committed.
      if (forced) this.#again = true;
      return;
    }
    this.#run(forced).catch((error: unknown) => this.options.onError?.(error));
  }

  #run(always: boolean): Promise<void> {
    const refreshing = this.#load(always).finally(() => {
      this.#refreshing = undefined;
      if (this.#again) {
        this.#again = false;
        this.#refreshNow(true);
      }
    });
    this.#refreshing = refreshing;
    return refreshing;
  }

  async #load(always: boolean): Promise<void> {
    const version = await readCatalogueVersion(this.db);
    if (!always && version === this.#version) return;
    const rows = await readModelRows(this.db);
    this.#byId = new Map(rows.map((m) => [m.id, m]));
    this.#all = Object.freeze(rows);
    this.#listed = Object.freeze(rows.filter((m) => m.state === 'active'));
    this.#version = version;
    for (const wake of this.#reloadWaiters.splice(0)) wake();
  }
}
