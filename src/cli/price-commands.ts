/**
 * `moongate price list | set`: the price per model per 1M tokens, in the currency
 * (micro-units with --json). A change applies to requests admitted a few seconds later;
 * running requests keep the price they were admitted at (docs/billing.md).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { listPrices } from '../billing/usage-summaries.js';
import { formatAmount, parseAmount } from '../billing/money.js';
import { setPrice } from '../billing/price-store.js';
import { MoongateError } from '../contract/errors.js';
import { formatTable } from './format-table.js';
import { withStore } from './with-store.js';

function parsePrice(text: string): number {
  try {
    const value = parseAmount(text);
    if (value < 0) throw new RangeError('a price cannot be negative');
    return value;
  } catch (error) {
    throw new InvalidArgumentError(error instanceof Error ? error.message : String(error));
  }
}

export function registerPriceCommands(program: Command): void {
  const price = program.command('price').description('list and set the price of each model per 1M tokens');

  price
    .command('list')
    .description('list the prices per 1M tokens')
    .option('--json', 'a JSON array, prices in micro-units per 1M tokens')
    .action(async (options: { json?: true }) => {
      await withStore(async (store, config) => {
        const prices = await listPrices(store.db);
        if (options.json === true) {
          process.stdout.write(`${JSON.stringify(prices, null, 2)}\n`);
          return;
        }
        const c = config.billing.currency;
        process.stdout.write(
          formatTable(
            ['MODEL', `CACHED INPUT (${c}/1M)`, `INPUT (${c}/1M)`, `OUTPUT (${c}/1M)`, `CACHE WRITE (${c}/1M)`],
            prices.map((p) => [
              p.model,
              formatAmount(p.cachedInput),
              formatAmount(p.input),
              formatAmount(p.output),
              formatAmount(p.cacheWrite),
            ]),
          ),
        );
      });
    });

  price
    .command('set')
    .description("set a model's prices per 1M tokens (omitted ones keep their value)")
    .argument('<model>', 'a model id, such as kimi-k2.5')
    .option('--cached-input <amount>', 'per 1M input tokens served from the cache, such as 0.10', parsePrice)
    .option('--input <amount>', 'per 1M input tokens, such as 0.60', parsePrice)
    .option('--output <amount>', 'per 1M output tokens, such as 3.00', parsePrice)
    .option('--cache-write <amount>', 'per 1M input tokens written to the cache, such as 0.60', parsePrice)
    .action(async (model: string, options: { cachedInput?: number; input?: number; output?: number; cacheWrite?: number }) => {
      await withStore(async (store, config) => {
        const current = (await listPrices(store.db)).find((p) => p.model === model);
        if (current === undefined) throw new MoongateError('bad_request', `${model} is not a model moongate prices`);
        const next = {
          model,
          cachedInput: options.cachedInput ?? current.cachedInput,
          input: options.input ?? current.input,
          output: options.output ?? current.output,
          cacheWrite: options.cacheWrite ?? current.cacheWrite,
        };
        await setPrice(store.db, next);
        const c = config.billing.currency;
        process.stderr.write(
          `${model}: ${formatAmount(next.cachedInput)} cached input, ${formatAmount(next.input)} input, ${formatAmount(next.output)} output, ${formatAmount(next.cacheWrite)} cache write (${c} per 1M tokens).\n`,
        );
      });
    });
}
