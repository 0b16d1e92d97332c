import { randomBytes } from 'node:crypto';

/** The kind prefixes in use; a new table adds its own here. */
export type IdPrefix = 'per' | 'svc' | 'app' | 'cred' | 'chan' | 'ses' | 'code';

/**
 * A random text primary key such as `cred_5f0c3a9e1b7d24c6a8e0f1b2`: the prefix says
 * what an id names wherever it turns up (logs, CLI output, support requests), and 96
 * random bits make collisions negligible without a central sequence, which keeps ids
 * portable between SQLite and PostgreSQL and across processes.
 */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomBytes(12).toString('hex')}`;
}

export const ID_PATTERN = /^(per|svc|app|cred|chan|ses|code)_[0-9a-f]{24}$/;
