/**
 * `moongate usage`: the usage log, newest first.
 * - as a table (default) or `--json` (an array, amounts in micro-units): one page, `--limit`
 *   rows (default 50, at most 500), from `--since` (default 1d);
 * - `--format csv|jsonl`: EVERY matching row, however many, streamed a page at a time in
 *   constant memory (billing/usage-export.ts, the console's Download has the same columns;
 *   amounts as decimal strings), all time unless `--since`/`--until` say otherwise. When
 *   stdout is not a terminal, a progress line goes to stderr.
 * Filters: `--email` (a person; without it everyone's rows), `--credential`, `--model`, `--status`.
 */
import { once } from 'node:events';
import { InvalidArgumentError, type Command } from 'commander';
import { PersonStore } from '../accounts/person-store.js';
import { listUsage, type UsageRow } from '../billing/usage-summaries.js';
import { formatAmount } from '../billing/money.js';
import { usageExportChunks, usageRecord } from '../billing/usage-export.js';
import { MoongateError } from '../contract/errors.js';
import { parseDuration } from './credential-commands.js';
import { formatTable } from './format-table.js';
import { parseLimit } from './parse-limit.js';
import { withStore } from './with-store.js';

interface UsageOptions {
  email?: string;
  since?: number;
  until?: number;
  model?: string;
  status?: 'completed' | 'failed' | 'aborted';
  credential?: string;
  limit?: number;
  json?: true;
  format?: 'table' | 'json' | 'csv' | 'jsonl';
}

const FORMATS = ['table', 'json', 'csv', 'jsonl'] as const;
const STATUSES = ['completed', 'failed', 'aborted'] as const;

function parseFormat(text: string): UsageOptions['format'] {
  if (!(FORMATS as readonly string[]).includes(text)) throw new InvalidArgumentError(`expected one of ${FORMATS.join(', ')}`);
  return text as UsageOptions['format'];
}

function parseStatus(text: string): UsageOptions['status'] {
  if (!(STATUSES as readonly string[]).includes(text)) throw new InvalidArgumentError(`expected one of ${STATUSES.join(', ')}`);
  return text as UsageOptions['status'];
}

/** An ISO time ("2026-12-01" or "2026-12-01T10:00:00Z") as milliseconds. */
function parseTime(text: string): number {
  const ms = Date.parse(text);
  if (!Number.isFinite(ms) || ms < 0) throw new InvalidArgumentError('expected an ISO date or time, such as 2026-12-01 or 2026-12-01T10:00:00Z');
  return ms;
}

export function registerUsageCommand(program: Command): void {
  program
    .command('usage')
    .description('list requests with their tokens and cost, newest first; --format csv|jsonl exports every matching row')
    .option('--email <email>', "one person's rows (default: everyone's)")
    .option('--credential <id>', "one credential's rows")
    .option('--model <model>', 'one model')
    .option('--status <status>', 'completed, failed or aborted', parseStatus)
    .option('--since <duration>', 'how far back, such as 1d, 12h or 2w (table and json default 1d; exports default all time)', parseDuration)
    .option('--until <time>', 'rows before this ISO date or time', parseTime)
    .option('--limit <n>', 'table and json: at most this many rows (default 50, at most 500)', parseLimit)
    .option('--format <format>', 'table (default), json, csv or jsonl', parseFormat)
    .option('--json', 'the same as --format json: a JSON array, amounts in micro-units')
    .action(async (options: UsageOptions) => {
      const format = options.format ?? (options.json === true ? 'json' : 'table');
      await withStore(async (store) => {
        let personId: string | null = null;
        if (options.email !== undefined) {
          const person = await new PersonStore(store.db).findPersonByEmail(options.email);
          if (person === undefined) throw new MoongateError('bad_request', `no person has the email ${options.email.trim()}`);
          personId = person.id;
        }
        const exporting = format === 'csv' || format === 'jsonl';
        const since = options.since === undefined ? (exporting ? undefined : Date.now() - 86_400_000) : Date.now() - options.since;
        const filter = {
          ...(since === undefined ? {} : { since }),
          ...(options.until === undefined ? {} : { until: options.until }),
          ...(options.model === undefined ? {} : { model: options.model }),
          ...(options.status === undefined ? {} : { status: options.status }),
          ...(options.credential === undefined ? {} : { credentialId: options.credential }),
        };
        if (format === 'csv' || format === 'jsonl') {
          await writeExport(usageExportChunks(store.db, personId, filter, format));
          return;
        }
        const { rows } = await listUsage(store.db, personId, { ...filter, ...(options.limit === undefined ? {} : { limit: options.limit }) });
        process.stdout.write(format === 'json' ? `${JSON.stringify(rows.map(toJson), null, 2)}\n` : table(rows));
      });
    });
}

/**
 * Writes the chunks to stdout, waiting for it to drain (so a slow reader never makes the
 * export buffer the rows), with a progress line on stderr when stdout is a file or a pipe.
 */
async function writeExport(chunks: AsyncIterable<{ text: string; rows: number }>): Promise<void> {
  const out = process.stdout;
  const progress = out.isTTY !== true;
  const sameLine = process.stderr.isTTY === true;
  let rows = 0;
  let reported = 0;
  const report = (done: boolean) => {
    const line = `${done ? 'Exported' : 'Exporting…'} ${rows.toLocaleString('en-US')} row${rows === 1 ? '' : 's'}`;
    process.stderr.write(sameLine ? `\r${line}${done ? '\n' : ''}` : `${line}\n`);
  };
  for await (const chunk of chunks) {
    rows += chunk.rows;
    if (!out.write(chunk.text)) await once(out, 'drain');
    if (progress && rows - reported >= PROGRESS_EVERY) {
      reported = rows;
      report(false);
    }
  }
  if (progress) report(true);
}

/** A progress line per this many rows (a line, not a flood, in a log file). */
const PROGRESS_EVERY = 10_000;

/** The wire names scripts expect (the export's columns, snake_case like the API's usage object), but cost in micro-units. */
function toJson(row: UsageRow) {
  return { ...usageRecord(row), cost: row.cost };
}

function table(rows: readonly UsageRow[]): string {
  return formatTable(
    ['TIME', 'MODEL', 'STATUS', 'PROMPT', 'CACHED', 'CACHE WRITE', 'COMPLETION', 'COST', 'MS', 'TRACE ID'],
    rows.map((r) => [
      new Date(r.createdAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      r.model,
      r.errorCode === null ? r.status : `${r.status} (${r.errorCode})`,
      String(r.promptTokens),
      String(r.cachedTokens),
      String(r.cacheWriteTokens),
      String(r.completionTokens),
      formatAmount(r.cost),
      String(r.durationMs),
      r.traceId,
    ]),
  );
}
