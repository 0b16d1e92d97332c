import type { Command } from 'commander';

/** Placeholder: filled in by the store/accounts work. */
export function registerCredentialCommands(_program: Command): void {}
