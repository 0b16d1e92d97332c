/**
 * `moongate code create | list`: top-up codes (docs/billing.md, "Top-up codes"). `create`
 * prints the codes on stdout, one per line (or a JSON array with --json), once: only their
 * hashes are stored. `list` shows each code's id, amount and status, never the code.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { formatAmount } from '../billing/money.js';
import { MAX_CODES_PER_BATCH, TopupCodeStore } from '../billing/topup-code-store.js';
import { parseCurrencyAmount } from './balance-commands.js';
import { formatTime, parseDuration } from './credential-commands.js';
import { formatTable } from './format-table.js';
import { withStore } from './with-store.js';

function parseCodeAmount(text: string): number {
  const amount = parseCurrencyAmount(text);
  if (amount <= 0) throw new InvalidArgumentError('a code must be worth more than 0');
  return amount;
}

function parseCount(text: string): number {
  const count = Number(text);
  if (!/^\d+$/.test(text.trim()) || count < 1 || count > MAX_CODES_PER_BATCH) {
    throw new InvalidArgumentError(`expected a whole number from 1 to ${MAX_CODES_PER_BATCH}`);
  }
  return count;
}

export function registerCodeCommands(program: Command): void {
  const code = program.command('code').description('make and list top-up codes, redeemed once into a balance');

  code
    .command('create')
    .description('make codes worth an amount each and print them, once')
    .requiredOption('--amount <amount>', 'what each code adds to a balance, in the currency, such as 5.00', parseCodeAmount)
    .option('--count <n>', 'how many codes', parseCount, 1)
    .option('--expires <duration>', 'they can be redeemed for this long, such as 30d (default: no expiry)', parseDuration)
    .option('--json', 'a JSON array of {id, code, amount, expiresAt}, amounts in micro-units')
    .action(async (options: { amount: number; count: number; expires?: number; json?: true }) => {
      await withStore(async (store, config) => {
        const expiresAt = options.expires === undefined ? null : Date.now() + options.expires;
        const codes = await new TopupCodeStore(store.db).createCodes({ amount: options.amount, count: options.count, expiresAt });
        process.stdout.write(options.json === true ? `${JSON.stringify(codes, null, 2)}\n` : codes.map((c) => `${c.code}\n`).join(''));
        process.stderr.write(
          `Made ${codes.length} code${codes.length === 1 ? '' : 's'} worth ${formatAmount(options.amount)} ${config.billing.currency} each` +
            `${expiresAt === null ? '' : `, redeemable until ${formatTime(expiresAt)}`}. The codes are shown only this once.\n`,
        );
      });
    });

  code
    .command('list')
    .description('list the codes, newest first: amount, status and who redeemed them (never the codes)')
    .option('--json', 'a JSON array, amounts in micro-units')
    .action(async (options: { json?: true }) => {
      await withStore(async (store, config) => {
        const { codes } = await new TopupCodeStore(store.db).listCodes();
        if (options.json === true) {
          process.stdout.write(`${JSON.stringify(codes, null, 2)}\n`);
          return;
        }
        const rows = codes.map((c) => [
          c.id,
          `${formatAmount(c.amount)} ${config.billing.currency}`,
          c.status,
          c.redeemedBy?.email ?? '',
          c.redeemedAt === null ? '' : formatTime(c.redeemedAt),
          c.expiresAt === null ? 'never' : formatTime(c.expiresAt),
          formatTime(c.createdAt),
        ]);
        process.stdout.write(formatTable(['ID', 'AMOUNT', 'STATUS', 'REDEEMED BY', 'REDEEMED', 'EXPIRES', 'CREATED'], rows));
      });
    });
}
