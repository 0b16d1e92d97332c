/**
 * `moongate admin create --email E [--password-stdin]`: makes (or promotes) an operator
 * who can log in to the console. The password is never an argument (it would sit in the
 * shell history and in `ps`): it is read from stdin, the first line, which suits
 * `--password-stdin` in scripts (`printf %s "$PW" | moongate admin create ...`); at a
 * terminal without the flag it is asked for with the typing hidden.
 */
import type { Command } from 'commander';
import { AccountService } from '../accounts/account-service.js';
import { SessionStore } from '../accounts/session-store.js';
import { loadConfig } from '../config.js';
import { openStore } from '../store/open-store.js';

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
      const password =
        options.passwordStdin !== true && process.stdin.isTTY ? await promptHidden('Password: ') : await readFirstLine(process.stdin);
      const config = loadConfig();
      const store = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
      try {
        const accounts = new AccountService({ db: store.db, dialect: store.dialect, sessions: new SessionStore(store.db) });
        const person = await accounts.createAdmin({ email: options.email, password });
        process.stderr.write(`${person.email} (${person.id}) is an admin and can log in to the console.\n`);
      } finally {
        await store.close();
      }
    });
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
