/**
 * The one-time setup link of a fresh install (issue 15, item 11). Registering used to make
 * the first person an operator, so whoever reached the console first owned it: a
 * DNS-rebinding page in the operator's own browser could. Now the first operator is made
 * only by someone who can read the server's output: `npm start` prints this link when there
 * is no active operator, and registering through it (the token travels in the URL's
 * fragment, which browsers never send, so it stays out of access logs) makes that person
 * the operator. The token is 256 random bits, kept in this process's memory as its SHA-256,
 * used at most once, and dead after `ttlMs` or once any active operator exists (made by
 * the CLI, say). A restart without an operator prints a fresh one.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../store/database.js';
import { activeOperatorIds } from './operator-roles.js';

export const SETUP_LINK_TTL_MS = 3_600_000;
/** What a setup token looks like: 32 random bytes in base64url. */
const SETUP_TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** A claimed token: the registration through it either keeps it used, or gives it back. */
export interface SetupClaim {
  release(): void;
}

export class SetupLink {
  readonly #hash: Buffer;
  readonly #expiresAt: number;
  #used = false;

  private constructor(hash: Buffer, expiresAt: number) {
    this.#hash = hash;
    this.#expiresAt = expiresAt;
  }

  /**
   * A new link and its token when the store has no active operator; undefined when it has
   * one (then nobody needs a link, and printing one would only leak a secret into logs).
   */
  static async issue(
    db: Kysely<Database>,
    now: number = Date.now(),
    ttlMs: number = SETUP_LINK_TTL_MS,
  ): Promise<{ link: SetupLink; token: string } | undefined> {
    if ((await activeOperatorIds(db, 1)).length > 0) return undefined;
    const token = randomBytes(32).toString('base64url');
    return { link: new SetupLink(digest(token), now + ttlMs), token };
  }

  get expiresAt(): number {
    return this.#expiresAt;
  }

  /**
   * Takes the link for one registration if `presented` is its token and it is unused and
   * unexpired; synchronous, so two registrations at once cannot both claim it.
   */
  claim(presented: string, now: number = Date.now()): SetupClaim | undefined {
    if (this.#used || now >= this.#expiresAt || !SETUP_TOKEN_PATTERN.test(presented)) return undefined;
    if (!timingSafeEqual(digest(presented), this.#hash)) return undefined;
    this.#used = true;
    return { release: () => void (this.#used = false) };
  }

  /** An operator exists now: the link can never be used. */
  retire(): void {
    this.#used = true;
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}
