/**
 * Acquire's first credential is decided by the database: two stores on two connections (as
 * two replicas have) claim at the same moment, and one credential is issued, the free quota
 * granted once. On both dialects: on SQLite, one store (SQLite is one process's database;
 * a second connection in the same process would block the event loop on the first's write
 * lock), where the concurrent calls interleave with no mutex to order them.
 */
import { expect, it } from 'vitest';
import { ApplicationStore } from '../../src/accounts/application-store.js';
import { CredentialStore } from '../../src/accounts/credential-store.js';
import { PersonStore } from '../../src/accounts/person-store.js';
import { KIMI_SERVICE } from '../../src/store/seed-services.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { describeEachDialect } from '../helpers/postgres.js';

const FREE_QUOTA = 1_000_000;

/** What the Acquire route does, on one replica's store. */
async function acquire(store: Store, personId: string): Promise<string | undefined> {
  const applications = new ApplicationStore(store.db, { freeQuota: FREE_QUOTA });
  const application = await applications.ensureApplication(personId, KIMI_SERVICE.slug);
  if (!(await applications.claimFirstCredential(application.id))) return undefined;
  const issued = await new CredentialStore(store.db, { freeQuota: FREE_QUOTA }).issueCredential({ personId, serviceSlug: KIMI_SERVICE.slug });
  return issued.credential.id;
}

describeEachDialect((target) => {
  it('issues one first credential and grants the quota once when two replicas acquire at the same moment', async () => {
    const a = await openStore(target.location());
    const b = target.dialect === 'postgres' ? await openStore(target.location()) : a;
    try {
      for (let round = 0; round < 5; round += 1) {
        const person = await new PersonStore(a.db).ensurePerson(`twice-${round}@example.com`);
        const results = await Promise.all([acquire(a, person.id), acquire(b, person.id), acquire(a, person.id), acquire(b, person.id)]);
        expect(results.filter((id) => id !== undefined)).toHaveLength(1);
        const credentials = await new CredentialStore(b.db).listCredentials(person.id);
        expect(credentials).toHaveLength(1);
        const wallets = await a.db.selectFrom('wallets').select(['amount']).where('person_id', '=', person.id).where('kind', '=', 'quota').execute();
        expect(wallets.map((w) => Number(w.amount))).toEqual([FREE_QUOTA]);
        // Acquiring again, later, issues nothing.
        expect(await acquire(b, person.id)).toBeUndefined();
      }
    } finally {
      await a.close();
      if (b !== a) await b.close();
    }
  });

  it('does not issue a first credential for an application that already has one, and a released claim can be taken again', async () => {
    const store = await openStore(target.location());
    try {
      const person = await new PersonStore(store.db).ensurePerson('had-one@example.com');
      await new CredentialStore(store.db).issueCredential({ personId: person.id, serviceSlug: KIMI_SERVICE.slug });
      expect(await acquire(store, person.id)).toBeUndefined();

      const other = await new PersonStore(store.db).ensurePerson('failed-once@example.com');
      const applications = new ApplicationStore(store.db);
      const application = await applications.ensureApplication(other.id, KIMI_SERVICE.slug);
      expect(await applications.claimFirstCredential(application.id)).toBe(true);
      // Issuing failed: the route gives the claim back.
      await applications.releaseFirstCredentialClaim(application.id);
      expect(await acquire(store, other.id)).toBeDefined();
    } finally {
      await store.close();
    }
  });
});
