/**
 * `moongate admin …`: the operators, from the server's shell, which is what turns any
 * lockout around (docs/security.md, "Operator recovery"):
 * - `create --email E [--password-stdin]`: makes (or promotes) an operator who can log in
 *   to the console, with a new password;
 * - `grant --email E`: makes an existing person an operator (their password unchanged);
 * - `enable --email E`: re-enables a disabled person (an operator disabled by mistake);
 * - `reset --email E [--password-stdin]`: sets a new console password and ends the
 *   person's sessions (a forgotten password);
 * - `list`: the operators and whether each is active.
 *
 * The password is never an argument (it would sit in the
 * shell history and in `ps`): it is read from stdin, the first line, which suits
 * `--password-stdin` in scripts (`printf %s "$PW" | moongate admin create ...`); at a
 * terminal without the flag it is asked for with the typing hidden.
 */
import type { Command } from 'commander';
import { AccountService } from '../accounts/account-service.js';
import { changePersonStanding } from '../accounts/operator-roles.js';
import { PersonStore, type Person } from '../accounts/person-store.js';
import { SessionStore } from '../accounts/session-store.js';
import { loadConfig } from '../config.js';
import { MoongateError } from '../contract/errors.js';
import { openStore, type Store } from '../store/open-store.js';
import { announceChange } from './announce-change.js';
import { formatTable } from './format-table.js';

interface CreateOptions {
  email: string;
  passwordStdin?: true;
}

export function registerAdminCommands(program: Command): void {
  const admin = program.command('admin').description('console operators');
  admin
    .command('create')
    .description('make a person (created if missing) an admin with a console password read from stdin')
    .requiredOption('--email <email>', 'the operator\'s email')
    .option('--password-stdin', 'read the password from stdin (the first line) without prompting')
    .action(async (options: CreateOptions) => {
      const password = await readPassword(options);
      await withAccounts(async (store, accounts) => {
        const person = await accounts.createAdmin({ email: options.email, password });
        process.stderr.write(`${person.email} (${person.id}) is an admin and can log in to the console.\n`);
      });
    });
  admin
    .command('grant')
    .description('make an existing person an admin (their password unchanged)')
    .requiredOption('--email <email>', "the person's email")
    .action(async (options: { email: string }) => {
      await withAccounts(async (store) => {
        const person = await findPerson(store, options.email);
        await changePersonStanding(store.db, store.dialect, person.id, { role: 'admin' });
        await announceChange(loadConfig(), { kind: 'person', id: person.id });
        process.stderr.write(`${person.email} (${person.id}) is an admin.${await loginHint(store, person)}\n`);
      });
    });
  admin
    .command('enable')
    .description('re-enable a disabled person (an admin disabled by mistake, say)')
    .requiredOption('--email <email>', "the person's email")
    .action(async (options: { email: string }) => {
      await withAccounts(async (store) => {
        const person = await findPerson(store, options.email);
        await changePersonStanding(store.db, store.dialect, person.id, { status: 'active' });
        await announceChange(loadConfig(), { kind: 'person', id: person.id });
        process.stderr.write(`${person.email} (${person.id}) is enabled.${await loginHint(store, person)}\n`);
      });
    });
  admin
    .command('reset')
    .description("set a person's console password (read from stdin) and end their sessions")
    .requiredOption('--email <email>', "the person's email")
    .option('--password-stdin', 'read the password from stdin (the first line) without prompting')
    .action(async (options: CreateOptions) => {
      const password = await readPassword(options);
      await withAccounts(async (store, accounts) => {
        const person = await findPerson(store, options.email);
        await accounts.resetPassword(person.id, password);
        process.stderr.write(`${person.email} (${person.id}) has a new password; their sessions have ended.\n`);
      });
    });
  admin
    .command('list')
    .description('the admins, and whether each is active')
    .action(async () => {
      await withAccounts(async (store) => {
        const rows = await store.db
          .selectFrom('people')
          .select(['id', 'email', 'status', 'password_hash'])
          .where('role', '=', 'admin')
          .orderBy('created_at')
          .execute();
        const table = rows.map((r) => [r.email, r.id, r.status, r.password_hash === null ? 'no' : 'yes']);
        process.stdout.write(formatTable(['EMAIL', 'ID', 'STATUS', 'PASSWORD'], table));
      });
    });
}

async function withAccounts(work: (store: Store, accounts: AccountService) => Promise<void>): Promise<void> {
  const config = loadConfig();
  const store = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
  try {
    await work(store, new AccountService({ db: store.db, dialect: store.dialect, sessions: new SessionStore(store.db) }));
  } finally {
    await store.close();
  }
}

async function findPerson(store: Store, email: string): Promise<Person> {
  const person = await new PersonStore(store.db).findPersonByEmail(email);
  if (person === undefined) throw new MoongateError('bad_request', `no person has the email ${email.trim()}`);
  return person;
}

/** What else the person needs before they can log in, if anything. */
async function loginHint(store: Store, person: Person): Promise<string> {
  const current = await new PersonStore(store.db).getPerson(person.id);
  const hints: string[] = [];
  if (current.status !== 'active') hints.push(`enable them: moongate admin enable --email ${current.email}`);
  if ((await new PersonStore(store.db).getPasswordHash(person.id)) === null) hints.push(`give them a password: moongate admin reset --email ${current.email}`);
  return hints.length === 0 ? '' : ` To log in, ${hints.join('; and ')}.`;
}

function readPassword(options: { passwordStdin?: true }): Promise<string> {
  return options.passwordStdin !== true && process.stdin.isTTY ? promptHidden('Password: ') : readFirstLine(process.stdin);
}

async function readFirstLine(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    if (text.includes('\n')) break;
  }
  return text.split(/\r?\n/, 1)[0] ?? '';
}

/** A terminal prompt that does not echo what is typed. */
async function promptHidden(prompt: string): Promise<string> {
  process.stderr.write(prompt);
  const stdin = process.stdin;
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  let typed = '';
  try {
    for await (const chunk of stdin) {
      for (const char of chunk as string) {
        if (char === '\r' || char === '\n') return typed;
        if (char === '\u0003') throw new Error('cancelled');
        typed = char === '\u007f' ? typed.slice(0, -1) : typed + char;
      }
    }
    return typed;
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    process.stderr.write('\n');
  }
}
