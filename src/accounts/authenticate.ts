/**
 * Who is calling: the `authorization` header of an API request, checked against the
 * credentials, with SPEC.md's error codes ("Errors", "Credentials and quota").
 * This runs on every request, so it costs one indexed query, and no error message
 * ever contains the token.
 */
import { MoongateError } from '../contract/errors.js';
import type { Store } from '../store/open-store.js';
import { CREDENTIAL_TOKEN_PATTERN, hashCredentialToken } from './credential-token.js';

export interface AuthenticatedCredential {
  credentialId: string;
  personId: string;
  /** The application the request draws on; null for a global credential. */
  applicationId: string | null;
  /** The service being called (for a global credential too). */
  serviceId: string;
  global: boolean;
  /** The credential's limit overrides; null means the default (docs/billing.md). */
  limits: { rps: number | null; concurrency: number | null };
}

// RFC 7235 §2.1: the auth scheme is case-insensitive. RFC 6750 §2.1: one space, then the token;
// extra spaces are tolerated because some clients send them.
const BEARER = /^bearer +(\S+)$/i;

export async function authenticate(
  authorization: string | undefined,
  serviceSlug: string,
  store: Pick<Store, 'db'>,
  now: number = Date.now(),
): Promise<AuthenticatedCredential> {
  const header = authorization?.trim() ?? '';
  if (header === '') throw new MoongateError('no_token');
  const token = BEARER.exec(header)?.[1];
  // A token that cannot be one of ours is refused without touching the database.
  if (token === undefined || !CREDENTIAL_TOKEN_PATTERN.test(token)) throw new MoongateError('invalid_token');

  const row = await store.db
    .selectFrom('credentials as c')
    .innerJoin('people as p', 'p.id', 'c.person_id')
    .leftJoin('applications as a', 'a.id', 'c.application_id')
    // The called service comes along in the same query: at most one row, by its unique slug.
    .leftJoin('services as s', (join) => join.on('s.slug', '=', serviceSlug))
    .select([
      'c.id',
      'c.person_id',
      'c.service_id',
      'c.application_id',
      'c.status',
      'c.expires_at',
      'c.rps_limit',
      'c.concurrency_limit',
      'p.status as person_status',
      'a.status as application_status',
      's.id as called_service_id',
      's.status as called_service_status',
    ])
    .where('c.token_hash', '=', hashCredentialToken(token))
    .executeTakeFirst();

  if (row === undefined || row.status === 'revoked') throw new MoongateError('invalid_token');
  if (row.expires_at !== null && row.expires_at <= now) throw new MoongateError('token_expired');
  if (row.status === 'disabled' || row.person_status === 'disabled' || row.application_status === 'disabled') {
    throw new MoongateError('disabled');
  }
  if (row.called_service_id === null) {
    // The caller names the service from its route, so an unknown one is our bug, not the client's.
    throw new MoongateError('api_error', undefined, { cause: new Error(`service ${serviceSlug} is not in the store`) });
  }
  if (row.service_id !== null && row.service_id !== row.called_service_id) {
    throw new MoongateError('token_mismatched');
  }
  if (row.called_service_status === 'disabled') {
    throw new MoongateError('disabled', 'The API has been disabled.');
  }
  return {
    credentialId: row.id,
    personId: row.person_id,
    applicationId: row.application_id,
    serviceId: row.called_service_id,
    global: row.service_id === null,
    limits: { rps: row.rps_limit, concurrency: row.concurrency_limit },
  };
}
