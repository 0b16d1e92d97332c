/**
 * Bounded growth of the usage log: rows older than the retention period are deleted at
 * start-up and then hourly, in slices so that no single delete holds the write lock long.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../store/database.js';

const DAY_MS = 86_400_000;
const SLICE = 5_000;

export async function pruneUsage(db: Kysely<Database>, retentionDays: number, now: number = Date.now()): Promise<number> {
  const cutoff = now - retentionDays * DAY_MS;
  let total = 0;
  for (;;) {
    // By the table's key (created_at, trace_id): the slice is found and deleted through one index.
    const result = await db
      .deleteFrom('usage')
      .where(({ eb, refTuple, selectFrom }) =>
        eb(refTuple('created_at', 'trace_id'), 'in', selectFrom('usage').select(['created_at', 'trace_id']).where('created_at', '<', cutoff).limit(SLICE).$asTuple('created_at', 'trace_id')),
      )
      .executeTakeFirst();
    const deleted = Number(result.numDeletedRows);
    total += deleted;
    if (deleted < SLICE) return total;
  }
}

export class UsagePruner {
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly retentionDays: number,
    private readonly onError: (error: unknown) => void,
    private readonly intervalMs = 3_600_000,
  ) {}

  async start(): Promise<void> {
    await pruneUsage(this.db, this.retentionDays);
    this.#timer = setInterval(() => {
      pruneUsage(this.db, this.retentionDays).catch(this.onError);
    }, this.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
