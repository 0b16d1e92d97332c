/** The `moongate` command. Each command group registers itself from its own file. */
import { Command } from 'commander';
import { registerAdminCommands } from './admin-commands.js';
import { registerBalanceCommands } from './balance-commands.js';
import { registerChannelCommands } from './channel-commands.js';
import { registerCodeCommands } from './code-commands.js';
import { registerCredentialCommands } from './credential-commands.js';
import { registerPersonCommands } from './person-commands.js';
import { registerModelCommands } from './model-commands.js';
import { registerPriceCommands } from './price-commands.js';
import { registerUsageCommand } from './usage-command.js';
import { registerServeCommand } from './serve-command.js';

export function buildProgram(): Command {
  const program = new Command('moongate')
    .description('moongate: a self-hostable Kimi Chat Completions API platform')
    .showHelpAfterError();
  registerServeCommand(program);
  registerCredentialCommands(program);
  registerAdminCommands(program);
  registerPersonCommands(program);
  registerBalanceCommands(program);
  registerUsageCommand(program);
  registerPriceCommands(program);
  registerModelCommands(program);
  registerCodeCommands(program);
  registerChannelCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    process.stderr.write(`moongate: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
