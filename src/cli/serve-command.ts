import type { Command } from 'commander';

/** Placeholder: filled in by the server work. */
export function registerServeCommand(_program: Command): void {}
