import { InvalidArgumentError } from 'commander';

/** `--rps 100` → 100. Commander reports an InvalidArgumentError as a usage error. */
export function parseLimit(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError('expected a whole number of at least 1');
  }
  return value;
}
