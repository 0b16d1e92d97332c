import type { Kysely } from 'kysely';
import type { Database } from './database.js';
import { newId } from './new-id.js';

/** The one service moongate serves today (SPEC.md: the Kimi Chat Completions API). */
export const KIMI_SERVICE = Object.freeze({
  slug: 'kimi-chat-completions',
  name: 'Kimi Chat Completions API',
});

/**
 * Inserts the built-in services that are missing. `on conflict do nothing` on the
 * unique slug makes this idempotent even when several processes start at once:
 * the losers of the race insert nothing, and nobody fails.
 */
export async function seedServices(db: Kysely<Database>, now: number = Date.now()): Promise<void> {
  await db
    .insertInto('services')
    .values({ id: newId('svc'), slug: KIMI_SERVICE.slug, name: KIMI_SERVICE.name, status: 'active', created_at: now })
    .onConflict((conflict) => conflict.column('slug').doNothing())
    .execute();
}
