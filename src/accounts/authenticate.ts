/**
 * Who is calling: the `authorization` header of an API request, checked against the
 * credentials, with SPEC.md's error codes ("Errors", "Credentials and quota").
 * This runs on every request, so it costs one indexed query (compiled once), and no error message
 * ever contains the token. A console playground token (`mg-play-…`, playground-token-store.ts)
 * takes its own branch, also one query, and then the same checks as its credential.
 * With a CredentialCache (the server passes one), an API token seen within the last second
 * skips the query; the checks still run on every request. Playground tokens are not cached:
 * they end with their console session, which no change message covers.
 */
import { MoongateError } from '../contract/errors.js';
import type { ApplicationStatus, CredentialStatus, PersonStatus, ServiceStatus } from '../store/database.js';
import type { Store } from '../store/open-store.js';
import { PreparedQuery } from '../store/prepared-query.js';
import type { CredentialCache } from './credential-cache.js';
import { CREDENTIAL_TOKEN_PATTERN, PLAYGROUND_TOKEN_PATTERN, hashCredentialToken } from './credential-token.js';

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
  /** Its person's limit overrides, across all their credentials; null means the default (docs/security.md). */
  personLimits: { rps: number | null; concurrency: number | null };
}

// RFC 7235 §2.1: the auth scheme is case-insensitive. RFC 6750 §2.1: one space, then the token;
// extra spaces are tolerated because some clients send them.
const BEARER = /^bearer +(\S+)$/i;

export async function authenticate(
  authorization: string | undefined,
  serviceSlug: string,
  store: Pick<Store, 'db'>,
  now: number = Date.now(),
  cache?: CredentialCache<CredentialAuthRow>,
): Promise<AuthenticatedCredential> {
  const header = authorization?.trim() ?? '';
  if (header === '') throw new MoongateError('no_token');
  const token = BEARER.exec(header)?.[1];
  if (token !== undefined && PLAYGROUND_TOKEN_PATTERN.test(token)) return authenticatePlayground(token, serviceSlug, store, now);
  // A token that cannot be one of ours is refused without touching the database.
  if (token === undefined || !CREDENTIAL_TOKEN_PATTERN.test(token)) throw new MoongateError('invalid_token');

  const tokenHash = hashCredentialToken(token);
  if (cache === undefined) return grantFound(await queriesOf(store).apiToken.executeTakeFirst(store.db, { serviceSlug, tokenHash }), serviceSlug, now);
  // The service slug is one of ours (the route's), never the client's; a newline never appears in it.
  const key = `${serviceSlug}\n${tokenHash}`;
  const cached = cache.get(key);
  if (cached !== undefined) return grantCredential(cached, serviceSlug, now);
  const generation = cache.generation;
  const row = await queriesOf(store).apiToken.executeTakeFirst(store.db, { serviceSlug, tokenHash });
  // Unknown tokens are not kept: a guessed token costs a query, as it always did, and cannot fill the cache.
  if (row !== undefined) cache.set(key, row, generation);
  return grantFound(row, serviceSlug, now);
}

function grantFound(row: CredentialAuthRow | undefined, serviceSlug: string, now: number): AuthenticatedCredential {
  if (row === undefined) throw new MoongateError('invalid_token');
  return grantCredential(row, serviceSlug, now);
}

/**
 * The two lookups, built and compiled once per store (prepared-query.ts): this runs on
 * every request, and building the query cost three times what running it does.
 */
function prepareQueries(db: Store['db']) {
  return {
    apiToken: new PreparedQuery((slot) => selectCredentialForService(db, slot('serviceSlug')).where('c.token_hash', '=', slot('tokenHash'))),
    playgroundToken: new PreparedQuery((slot) =>
      selectCredentialForService(db, slot('serviceSlug'))
        .innerJoin('playground_tokens as pt', (join) => join.onRef('pt.credential_id', '=', 'c.id').onRef('pt.person_id', '=', 'c.person_id'))
        // The session must be the same person's; a missing one (logged out) leaves these null.
        .leftJoin('sessions as ses', (join) => join.onRef('ses.id', '=', 'pt.session_id').onRef('ses.person_id', '=', 'pt.person_id'))
        .select(['pt.expires_at as playground_expires_at', 'ses.expires_at as session_expires_at'])
        .where('pt.token_hash', '=', slot('tokenHash')),
    ),
  };
}

const prepared = new WeakMap<Store['db'], ReturnType<typeof prepareQueries>>();

function queriesOf(store: Pick<Store, 'db'>): ReturnType<typeof prepareQueries> {
  let queries = prepared.get(store.db);
  if (queries === undefined) prepared.set(store.db, (queries = prepareQueries(store.db)));
  return queries;
}

/**
 * What both token kinds read about a credential, its person and application, and the
 * called service (at most one row, by its unique slug), before each adds its own `where`.
 */
function selectCredentialForService(db: Store['db'], serviceSlug: string) {
  return db
    .selectFrom('credentials as c')
    .innerJoin('people as p', 'p.id', 'c.person_id')
    .leftJoin('applications as a', 'a.id', 'c.application_id')
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
      'p.rps_limit as person_rps_limit',
      'p.concurrency_limit as person_concurrency_limit',
      'a.status as application_status',
      's.id as called_service_id',
      's.status as called_service_status',
    ]);
}

/** What the authentication query reads about a credential, its person, application and the called service. */
export interface CredentialAuthRow {
  id: string;
  person_id: string;
  service_id: string | null;
  application_id: string | null;
  status: CredentialStatus;
  expires_at: number | null;
  rps_limit: number | null;
  concurrency_limit: number | null;
  person_status: PersonStatus;
  person_rps_limit: number | null;
  person_concurrency_limit: number | null;
  application_status: ApplicationStatus | null;
  called_service_id: string | null;
  called_service_status: ServiceStatus | null;
}

/** SPEC.md's checks on a found credential, in order; the same for an API token and a playground token. */
function grantCredential(row: CredentialAuthRow, serviceSlug: string, now: number): AuthenticatedCredential {
  if (row.status === 'revoked') throw new MoongateError('invalid_token');
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
    personLimits: { rps: row.person_rps_limit, concurrency: row.person_concurrency_limit },
  };
}

/**
 * A playground token (minted by the console for one of the person's credentials) acts as
 * its credential, but only while the token and the console session that minted it are both
 * alive: a logout or a password change ends it. One query, like the API token path.
 */
async function authenticatePlayground(
  token: string,
  serviceSlug: string,
  store: Pick<Store, 'db'>,
  now: number,
): Promise<AuthenticatedCredential> {
  const row = await queriesOf(store).playgroundToken.executeTakeFirst(store.db, { serviceSlug, tokenHash: hashCredentialToken(token) });

  if (row === undefined || row.session_expires_at === null) throw new MoongateError('invalid_token');
  if (row.playground_expires_at <= now || row.session_expires_at <= now) throw new MoongateError('token_expired');
  return grantCredential(row, serviceSlug, now);
}
