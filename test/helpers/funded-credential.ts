/** A person with a credential and money to spend, for billing tests. */
import { CredentialStore } from '../../src/accounts/credential-store.js';
import { PersonStore } from '../../src/accounts/person-store.js';
import { addBalance } from '../../src/billing/wallet-store.js';
import type { Store } from '../../src/store/open-store.js';
import { KIMI_SERVICE } from '../../src/store/seed-services.js';

export interface FundedCredential {
  token: string;
  personId: string;
  credentialId: string;
}

/**
 * A global credential drawing on a global balance of `balance` micro-units, or (service)
 * a service credential whose application quota is exactly `balance` (the free quota is
 * replaced, and the application may not fall back to a balance).
 */
export async function fundedCredential(
  store: Pick<Store, 'db'>,
  email: string,
  options: { balance: number; scope?: 'global' | 'service'; rps?: number; concurrency?: number },
): Promise<FundedCredential> {
  const person = await new PersonStore(store.db).ensurePerson(email);
  const limits = { rpsLimit: options.rps ?? null, concurrencyLimit: options.concurrency ?? null };
  // Limits given for the credential are the person's too, so a test of one credential's
  // limits or of billing is not cut short by the per-person defaults.
  await new PersonStore(store.db).setPersonLimits(person.id, { rps: options.rps, concurrency: options.concurrency });
  const credentials = new CredentialStore(store.db);
  if (options.scope === 'service') {
    const { token, credential } = await credentials.issueCredential({ personId: person.id, serviceSlug: KIMI_SERVICE.slug, ...limits });
    await store.db
      .updateTable('wallets')
      .set({ amount: options.balance, fallback: 'none' })
      .where('id', '=', credential.applicationId ?? '')
      .execute();
    return { token, personId: person.id, credentialId: credential.id };
  }
  const { token, credential } = await credentials.issueCredential({ personId: person.id, global: true, ...limits });
  await addBalance(store.db, person.id, options.balance);
  return { token, personId: person.id, credentialId: credential.id };
}
