/**
 * A credential as the console API shows it: everything but its token (never stored) and
 * its hash, with its limits as `rps` and `concurrency` (null: the default).
 */
import type { Credential } from '../../../accounts/credential-store.js';

export type CredentialView = Omit<Credential, 'rpsLimit' | 'concurrencyLimit'> & { rps: number | null; concurrency: number | null };

export function credentialView(credential: Credential): CredentialView {
  const { rpsLimit, concurrencyLimit, ...rest } = credential;
  return { ...rest, rps: rpsLimit, concurrency: concurrencyLimit };
}
