import { CredentialStore } from '../../src/accounts/credential-store.js';
import { PersonStore } from '../../src/accounts/person-store.js';
import { KIMI_SERVICE } from '../../src/store/seed-services.js';
import type { Store } from '../../src/store/open-store.js';

/** A new Kimi service credential for a person (created if missing); returns the token. */
export async function mintToken(store: Store, email: string): Promise<string> {
  const person = await new PersonStore(store.db).ensurePerson(email);
  const { token } = await new CredentialStore(store.db).issueCredential({ personId: person.id, serviceSlug: KIMI_SERVICE.slug });
  return token;
}
