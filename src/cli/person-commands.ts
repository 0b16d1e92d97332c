/**
 * `moongate person limits --email E [--credentials N] [--rps N] [--concurrency N]`: the
 * operator's per-person limits (docs/security.md, "Per-person limits"): how many
 * credentials the person may hold, and the requests per second and at once across all of
 * them. `default` for a value goes back to the environment's default (PERSON_*_LIMIT).
 * With no value given it prints the person's limits. A running server applies a change to
 * the person's next request.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { PersonStore } from '../accounts/person-store.js';
import { MoongateError } from '../contract/errors.js';
import { parseLimit } from './parse-limit.js';
import { withStore } from './with-store.js';
import { announceChange } from './announce-change.js';

interface LimitsOptions {
  email: string;
  credentials?: Limit;
  rps?: Limit;
  concurrency?: Limit;
}

type Limit = number | 'default';

/** A limit, or `default` (Commander does not keep a null a parser returns, so the word stays). */
function parseLimitOrDefault(text: string): Limit {
  if (text.trim() === 'default') return 'default';
  try {
    return parseLimit(text);
  } catch {
    throw new InvalidArgumentError('expected a whole number of at least 1, or default');
  }
}

export function registerPersonCommands(program: Command): void {
  const person = program.command('person').description("a person's limits");
  person
    .command('limits')
    .description("show or set a person's limits across all their credentials (default: back to PERSON_*_LIMIT)")
    .requiredOption('--email <email>', "the person's email")
    .option('--credentials <n>', 'credentials they may hold (not revoked, not expired)', parseLimitOrDefault)
    .option('--rps <n>', 'requests per second across their credentials', parseLimitOrDefault)
    .option('--concurrency <n>', 'requests at once across their credentials', parseLimitOrDefault)
    .action(async (options: LimitsOptions) => {
      await withStore(async (store, config) => {
        const people = new PersonStore(store.db);
        const found = await people.findPersonByEmail(options.email);
        if (found === undefined) throw new MoongateError('bad_request', `no person has the email ${options.email.trim()}`);
        const stored = (value: Limit | undefined) => (value === 'default' ? null : value);
        await people.setPersonLimits(found.id, {
          credentials: stored(options.credentials),
          rps: stored(options.rps),
          concurrency: stored(options.concurrency),
        });
        await announceChange(config, { kind: 'person', id: found.id });
        const own = await people.getPersonLimits(found.id);
        const show = (value: number | null, fallback: number) => (value === null ? `${fallback} (default)` : String(value));
        process.stdout.write(
          `${found.email} (${found.id})\n` +
            `  credentials:  ${show(own.credentials, config.personLimits.credentials)}\n` +
            `  rps:          ${show(own.rps, config.personLimits.rps)}\n` +
            `  concurrency:  ${show(own.concurrency, config.personLimits.concurrency)}\n`,
        );
      });
    });
}
