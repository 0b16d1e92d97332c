/**
 * `moongate balance add | show`: an operator credits a person's global balance and looks
 * at what they have. Amounts are typed and printed in the currency (5.00); `--json`
 * prints integer micro-units for scripts (docs/billing.md).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { PersonStore } from '../accounts/person-store.js';
import { getBalanceSummary } from '../billing/usage-summaries.js';
import { formatAmount, parseAmount } from '../billing/money.js';
import { addBalance } from '../billing/wallet-store.js';
import { MoongateError } from '../contract/errors.js';
import { withStore } from './with-store.js';

/** `--amount 5.00` → micro-units; commander reports an InvalidArgumentError as a usage error. */
export function parseCurrencyAmount(text: string): number {
  try {
    return parseAmount(text);
  } catch (error) {
    throw new InvalidArgumentError(error instanceof Error ? error.message : String(error));
  }
}

export function registerBalanceCommands(program: Command): void {
  const balance = program.command('balance').description("add to and show a person's balance");

  balance
    .command('add')
    .description("add an amount to a person's global balance (negative to take some back)")
    .requiredOption('--email <email>', 'the person (created if missing)')
    .requiredOption('--amount <amount>', 'in the currency, up to 6 decimals, such as 5.00', parseCurrencyAmount)
    .action(async (options: { email: string; amount: number }) => {
      await withStore(async (store, config) => {
        const person = await new PersonStore(store.db).ensurePerson(options.email);
        await addBalance(store.db, person.id, options.amount);
        const summary = await getBalanceSummary(store.db, person.id, config.billing.currency);
        process.stderr.write(
          `Added ${formatAmount(options.amount)} ${config.billing.currency} to ${person.email}; balance ${formatAmount(summary.balance)} ${config.billing.currency}.\n`,
        );
      });
    });

  balance
    .command('show')
    .description("show a person's quota, global balance and what is held right now")
    .requiredOption('--email <email>', 'the person')
    .option('--json', 'one JSON object, amounts in micro-units')
    .action(async (options: { email: string; json?: true }) => {
      await withStore(async (store, config) => {
        const person = await new PersonStore(store.db).findPersonByEmail(options.email);
        if (person === undefined) throw new MoongateError('bad_request', `no person has the email ${options.email.trim()}`);
        const summary = await getBalanceSummary(store.db, person.id, config.billing.currency);
        if (options.json === true) {
          process.stdout.write(`${JSON.stringify(summary)}\n`);
          return;
        }
        const c = summary.currency;
        process.stdout.write(
          `quota    ${formatAmount(summary.quota)} ${c}\nbalance  ${formatAmount(summary.balance)} ${c}\nheld     ${formatAmount(summary.held)} ${c}\n`,
        );
      });
    });
}
