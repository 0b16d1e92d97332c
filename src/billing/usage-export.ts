/**
 * Usage rows leaving the building: every row a query matches, however many, a page at a time
 * (listUsage's keyset pages of 500, so memory stays flat), as CSV or JSON Lines with the same
 * columns in the CLI (`moongate usage --format csv|jsonl`) and the console's Download button
 * (GET /api/usage/export.csv). Amounts are exact decimal strings; every row has its trace id.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../store/database.js';
import { listUsage, type UsageQuery, type UsageRow } from './usage-summaries.js';
import { formatAmount } from './money.js';

export const EXPORT_PAGE_SIZE = 500;

/** The columns, in order: the CSV header and the JSON Lines keys. */
export const USAGE_EXPORT_COLUMNS = [
  'trace_id',
  'created_at',
  'model',
  'credential_id',
  'credential_name',
  'service',
  'stream',
  'status',
  'error_code',
  'prompt_tokens',
  'cached_tokens',
  'completion_tokens',
  'cost',
  'duration_ms',
  'ttft_ms',
  'channel',
  // Added after the first release: new columns go at the end, so a column keeps its place.
  'cache_write_tokens',
] as const;

export type UsageRecord = Record<(typeof USAGE_EXPORT_COLUMNS)[number], string | number | boolean | null>;

/** One row with the wire names; `cost` a decimal string in the currency ("0.000123"). */
export function usageRecord(row: UsageRow): UsageRecord {
  return {
    trace_id: row.traceId,
    created_at: new Date(row.createdAt).toISOString(),
    model: row.model,
    credential_id: row.credentialId,
    credential_name: row.credentialName,
    service: row.serviceSlug,
    stream: row.stream,
    status: row.status,
    error_code: row.errorCode,
    prompt_tokens: row.promptTokens,
    cached_tokens: row.cachedTokens,
    completion_tokens: row.completionTokens,
    cost: formatAmount(row.cost),
    duration_ms: row.durationMs,
    ttft_ms: row.ttftMs,
    channel: row.channel,
    cache_write_tokens: row.cacheWriteTokens,
  };
}

/** Every matching row, newest first, one page in memory at a time. */
export async function* exportUsage(
  db: Kysely<Database>,
  personId: string | null,
  query: Omit<UsageQuery, 'limit' | 'before'>,
): AsyncGenerator<UsageRow[]> {
  let before: string | undefined;
  for (;;) {
    const page = await listUsage(db, personId, { ...query, limit: EXPORT_PAGE_SIZE, ...(before === undefined ? {} : { before }) });
    if (page.rows.length > 0) yield page.rows;
    if (page.next === null) return;
    before = page.next;
  }
}

export const CSV_HEADER = `${USAGE_EXPORT_COLUMNS.join(',')}\r\n`;

/** RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled. */
function csvField(value: string | number | boolean | null): string {
  if (value === null) return '';
  const text = String(value);
  // A leading =, +, - or @ would be a formula to a spreadsheet: a quote-led text cell instead.
  const safe = /^[=+\-@\t\r]/.test(text) && typeof value === 'string' ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export function csvLine(row: UsageRow): string {
  const record = usageRecord(row);
  return `${USAGE_EXPORT_COLUMNS.map((column) => csvField(record[column])).join(',')}\r\n`;
}

export function jsonLine(row: UsageRow): string {
  return `${JSON.stringify(usageRecord(row))}\n`;
}

/** The whole export as text chunks (one per page, with its row count), for a stream to write with backpressure. */
export async function* usageExportChunks(
  db: Kysely<Database>,
  personId: string | null,
  query: Omit<UsageQuery, 'limit' | 'before'>,
  format: 'csv' | 'jsonl',
): AsyncGenerator<{ text: string; rows: number }> {
  if (format === 'csv') yield { text: CSV_HEADER, rows: 0 };
  for await (const rows of exportUsage(db, personId, query)) {
    yield { text: rows.map(format === 'csv' ? csvLine : jsonLine).join(''), rows: rows.length };
  }
}

/** The export's text alone, for an HTTP answer. */
export async function* usageExportText(
  db: Kysely<Database>,
  personId: string | null,
  query: Omit<UsageQuery, 'limit' | 'before'>,
  format: 'csv' | 'jsonl',
): AsyncGenerator<string> {
  for await (const chunk of usageExportChunks(db, personId, query, format)) yield chunk.text;
}
