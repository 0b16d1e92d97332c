/**
 * Playground tokens (docs/console-api.md, "The playground"): the console's playground calls
 * the real chat API, so it needs a token for the credential the person picked, but only
 * token hashes are stored. It mints a short-lived one instead, bound to the credential and
 * to the console session that asked; authenticate() accepts it as that credential while
 * both the token and the session are alive. Only the SHA-256 of the token is stored.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../store/database.js';
import { newPlaygroundToken } from './credential-token.js';

/** Long enough for a playground session of trying prompts; short enough that a copied token soon dies. */
export const PLAYGROUND_TOKEN_TTL_MS = 15 * 60_000;
/**
 * Live tokens one session keeps: minting another ends its oldest, so a script with a
 * session cannot fill the table. A console mints a new one when a call answers 401, and a
 * request already running is not affected (authentication happens once, at its start).
 */
export const PLAYGROUND_TOKENS_PER_SESSION = 10;

export interface PlaygroundToken {
  /** In the mint response only. */
  token: string;
  expiresAt: number;
  credentialId: string;
}

export class PlaygroundTokenStore {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * A new token for one of the person's own credentials, bound to their session; undefined
   * when the credential is someone else's, revoked, or does not exist (the caller answers
   * the same for all three). Expired tokens are deleted on the way, and the session's
   * oldest beyond PLAYGROUND_TOKENS_PER_SESSION.
   */
  async mint(input: { personId: string; sessionId: string; credentialId: string }, now: number = Date.now()): Promise<PlaygroundToken | undefined> {
    const credential = await this.#db
      .selectFrom('credentials')
      .select('id')
      .where('id', '=', input.credentialId)
      .where('person_id', '=', input.personId)
      .where('status', '!=', 'revoked')
      .executeTakeFirst();
    if (credential === undefined) return undefined;
    await this.deleteExpired(now);
    const { token, hash } = newPlaygroundToken();
    const expiresAt = now + PLAYGROUND_TOKEN_TTL_MS;
    await this.#db
      .insertInto('playground_tokens')
      .values({
        token_hash: hash,
        credential_id: credential.id,
        person_id: input.personId,
        session_id: input.sessionId,
        expires_at: expiresAt,
        created_at: now,
      })
      .execute();
    const newest = this.#db
      .selectFrom('playground_tokens')
      .select('token_hash')
      .where('session_id', '=', input.sessionId)
      .orderBy('created_at', 'desc')
      .orderBy('token_hash', 'desc')
      .limit(PLAYGROUND_TOKENS_PER_SESSION);
    await this.#db
      .deleteFrom('playground_tokens')
      .where('session_id', '=', input.sessionId)
      .where('token_hash', '!=', hash)
      .where('token_hash', 'not in', newest)
      .execute();
    return { token, expiresAt, credentialId: credential.id };
  }

  /** Housekeeping (authenticate() checks expiry itself): expired tokens are dead rows. */
  async deleteExpired(now: number = Date.now()): Promise<number> {
    const result = await this.#db.deleteFrom('playground_tokens').where('expires_at', '<=', now).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
