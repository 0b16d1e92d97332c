/**
 * `moongate usage --email E [--since 1d]`: a person's usage log, newest first, as a table
 * or (`--json`) an array of rows with amounts in micro-units.
 */
import type { Command } from 'commander';
import { PersonStore } from '../accounts/person-store.js';
import { listUsage, type UsageRow } from '../billing/usage-summaries.js';
import { formatAmount } from '../billing/money.js';
import { MoongateError } from '../contract/errors.js';
import { parseDuration } from './credential-commands.js';
import { formatTable } from './format-table.js';
import { parseLimit } from './parse-limit.js';
import { withStore } from './with-store.js';

export function registerUsageCommand(program: Command): void {
  program
    .command('usage')
    .description("list a person's requests with their tokens and cost, newest first")
    .requiredOption('--email <email>', 'the person')
    .option('--since <duration>', 'how far back, such as 1d, 12h or 2w (default 1d)', parseDuration)
    .option('--limit <n>', 'at most this many rows (default 50, at most 500)', parseLimit)
    .option('--json', 'a JSON array, amounts in micro-units')
    .action(async (options: { email: string; since?: number; limit?: number; json?: true }) => {
      await withStore(async (store) => {
        const person = await new PersonStore(store.db).findPersonByEmail(options.email);
        if (person === undefined) throw new MoongateError('bad_request', `no person has the email ${options.email.trim()}`);
        const since = Date.now() - (options.since ?? 86_400_000);
        const { rows } = await listUsage(store.db, person.id, { since, ...(options.limit === undefined ? {} : { limit: options.limit }) });
        process.stdout.write(options.json === true ? `${JSON.stringify(rows.map(toJson), null, 2)}\n` : table(rows));
      });
    });
}

/** The wire names scripts expect (snake_case, like the API's usage object). */
function toJson(row: UsageRow) {
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
    cost: row.cost,
    duration_ms: row.durationMs,
    ttft_ms: row.ttftMs,
    channel: row.channel,
  };
}

function table(rows: readonly UsageRow[]): string {
  return formatTable(
    ['TIME', 'MODEL', 'STATUS', 'PROMPT', 'CACHED', 'COMPLETION', 'COST', 'MS', 'TRACE ID'],
    rows.map((r) => [
      new Date(r.createdAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      r.model,
      r.errorCode === null ? r.status : `${r.status} (${r.errorCode})`,
      String(r.promptTokens),
      String(r.cachedTokens),
      String(r.completionTokens),
      formatAmount(r.cost),
      String(r.durationMs),
      r.traceId,
    ]),
  );
}
