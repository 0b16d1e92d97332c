/**
 * `moongate credential create | list | revoke`: an operator's way to hand out API tokens
 * before (or instead of) the console. `create` prints the token alone on stdout so that
 * `TOKEN=$(moongate credential create --email ...)` works; everything else goes to stderr.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { CredentialStore, type Credential } from '../accounts/credential-store.js';
import { PersonStore } from '../accounts/person-store.js';
import { MoongateError } from '../contract/errors.js';
import { KIMI_SERVICE } from '../store/seed-services.js';
import { withStore } from './with-store.js';
import { announceChange } from './announce-change.js';
import { formatTable } from './format-table.js';
import { parseLimit } from './parse-limit.js';

interface CreateOptions {
  email: string;
  global?: true;
  name?: string;
  expires?: number;
  rps?: number;
  concurrency?: number;
  overLimit?: true;
}

interface ListOptions {
  email: string;
  json?: true;
}

export function registerCredentialCommands(program: Command): void {
  const credential = program.command('credential').description('create, list and revoke API credentials');

  credential
    .command('create')
    .description(`create a credential (for the ${KIMI_SERVICE.name} unless --global) and print its token`)
    .requiredOption('--email <email>', 'the person it belongs to (created if missing)')
    .option('--global', 'a global credential, usable on every service')
    .option('--name <name>', 'a label to tell credentials apart')
    .option('--expires <duration>', 'lifetime, such as 30d, 12h, 90m or 2w (default: never expires)', parseDuration)
    .option('--rps <n>', 'requests per second it may make (default 60)', parseLimit)
    .option('--concurrency <n>', 'requests it may run at once (default 20)', parseLimit)
    .option('--over-limit', "issue it even if the person holds their limit of credentials (PERSON_CREDENTIALS_LIMIT or their own)")
    .action(async (options: CreateOptions) => {
      await withStore(async (store, config) => {
        const person = await new PersonStore(store.db).ensurePerson(options.email);
        const expiresAt = options.expires === undefined ? undefined : Date.now() + options.expires;
        const common = {
          personId: person.id,
          name: options.name,
          expiresAt,
          rpsLimit: options.rps,
          concurrencyLimit: options.concurrency,
          credentialsLimit: options.overLimit === true ? undefined : { defaultLimit: config.personLimits.credentials },
        };
        // A new person's first application gets the operator's free quota, as from the console.
        const { token, credential: created } = await new CredentialStore(store.db, { freeQuota: config.billing.freeQuota }).issueCredential(
          options.global === true ? { ...common, global: true } : { ...common, serviceSlug: KIMI_SERVICE.slug },
        );
        process.stdout.write(`${token}\n`);
        process.stderr.write(
          `Created ${describeScope(created)} credential ${created.id} for ${person.email}` +
            `${created.expiresAt === null ? '' : `, expiring ${formatTime(created.expiresAt)}`}.` +
            ' The token is shown only this once.\n',
        );
      });
    });

  credential
    .command('list')
    .description("list a person's credentials (never their tokens)")
    .requiredOption('--email <email>', 'the person whose credentials to list')
    .option('--json', 'print a JSON array instead of a table')
    .action(async (options: ListOptions) => {
      await withStore(async (store) => {
        const person = await new PersonStore(store.db).findPersonByEmail(options.email);
        if (person === undefined) throw new MoongateError('bad_request', `no person has the email ${options.email.trim()}`);
        const credentials = await new CredentialStore(store.db).listCredentials(person.id);
        process.stdout.write(options.json === true ? `${JSON.stringify(credentials, null, 2)}\n` : credentialTable(credentials));
      });
    });

  credential
    .command('limits')
    .description("change a credential's limits (they apply to its next request)")
    .argument('<id>', 'the credential id, as `credential list` shows it')
    .option('--rps <n>', 'requests per second it may make', parseLimit)
    .option('--concurrency <n>', 'requests it may run at once', parseLimit)
    .action(async (id: string, options: { rps?: number; concurrency?: number }) => {
      await withStore(async (store, config) => {
        const changed = await new CredentialStore(store.db).setCredentialLimits(id, { rpsLimit: options.rps, concurrencyLimit: options.concurrency });
        await announceChange(config, { kind: 'credential', id: changed.id });
        process.stderr.write(
          `Credential ${changed.id}: ${changed.rpsLimit ?? 'default'} rps, ${changed.concurrencyLimit ?? 'default'} concurrent.\n`,
        );
      });
    });

  credential
    .command('revoke')
    .description('revoke a credential for good')
    .argument('<id>', 'the credential id, as `credential list` shows it')
    .action(async (id: string) => {
      await withStore(async (store, config) => {
        const revoked = await new CredentialStore(store.db).revokeCredential(id);
        await announceChange(config, { kind: 'credential', id: revoked.id });
        process.stderr.write(`Revoked credential ${revoked.id}.\n`);
      });
    });
}

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** `30d` → milliseconds. Commander reports an InvalidArgumentError as a usage error. */
export function parseDuration(text: string): number {
  const match = /^(\d+)([mhdw])$/.exec(text.trim());
  const unit = match?.[2] === undefined ? undefined : DURATION_UNITS_MS[match[2]];
  const amount = Number(match?.[1]);
  if (unit === undefined || !Number.isSafeInteger(amount * unit) || amount <= 0) {
    throw new InvalidArgumentError('expected a positive whole number and a unit: m, h, d or w (such as 30d or 12h)');
  }
  return amount * unit;
}

function describeScope(credential: Credential): string {
  return credential.serviceSlug ?? 'global';
}

/** ISO 8601 to the second, in UTC: unambiguous in a terminal and in a bug report. */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function credentialTable(credentials: readonly Credential[]): string {
  const header = ['ID', 'NAME', 'PREFIX', 'SCOPE', 'STATUS', 'EXPIRES', 'CREATED'];
  const rows = credentials.map((c) => [
    c.id,
    c.name,
    `${c.tokenPrefix}...`,
    describeScope(c),
    c.status,
    c.expiresAt === null ? 'never' : formatTime(c.expiresAt),
    formatTime(c.createdAt),
  ]);
  return formatTable(header, rows);
}
