/**
 * Every migration, in order. Kysely runs them sorted by name, so names start with a
 * zero-padded number; a migration, once released, is never edited, only followed.
 */
import type { Migration, MigrationProvider } from 'kysely';
import * as accounts from './0001-accounts.js';
import * as billing from './0002-billing.js';
import * as sessions from './0003-sessions.js';
import * as channels from './0004-channels.js';
import * as playgroundTokens from './0005-playground-tokens.js';
import * as topupCodes from './0006-topup-codes.js';
import * as usageTimeKey from './0007-usage-time-key.js';
import * as firstCredential from './0010-first-credential.js';
import * as personLimits from './0009-person-limits.js';
import * as channelPassthrough from './0013-channel-passthrough.js';

export const MIGRATIONS: Readonly<Record<string, Migration>> = Object.freeze({
  '0001-accounts': accounts,
  '0002-billing': billing,
  '0003-sessions': sessions,
  '0004-channels': channels,
  '0005-playground-tokens': playgroundTokens,
  '0006-topup-codes': topupCodes,
  '0007-usage-time-key': usageTimeKey,
  '0010-first-credential': firstCredential,
  '0009-person-limits': personLimits,
  '0013-channel-passthrough': channelPassthrough,
});

/** Migrations ship inside the build, not as files read from disk at run time. */
export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve(MIGRATIONS),
};
