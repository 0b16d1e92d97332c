import { createHash, randomBytes } from 'node:crypto';
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationStore } from '../../src/accounts/application-store.js';
import { authenticate } from '../../src/accounts/authenticate.js';
import { CREDENTIAL_TOKEN_PATTERN } from '../../src/accounts/credential-token.js';
import { CredentialStore } from '../../src/accounts/credential-store.js';
import { normalizeEmail, PersonStore } from '../../src/accounts/person-store.js';
import { MoongateError, type ErrorCode } from '../../src/contract/errors.js';
import { newId } from '../../src/store/new-id.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { KIMI_SERVICE } from '../../src/store/seed-services.js';
import { describeEachDialect } from '../helpers/postgres.js';

const KIMI = KIMI_SERVICE.slug;

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<MoongateError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(MoongateError);
  expect((error as MoongateError).code).toBe(code);
  return error as MoongateError;
}

/** Counts the queries a Kysely instance sends, to hold authenticate() to one. */
/** Counts the queries run (their results), not the ones built: prepared queries are built once. */
class QueryCounter implements KyselyPlugin {
  count = 0;
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return args.node;
  }
  transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    this.count += 1;
    return Promise.resolve(args.result);
  }
}

let emailCounter = 0;
const uniqueEmail = (): string => `person-${++emailCounter}-${randomBytes(3).toString('hex')}@example.com`;

describe('normalizeEmail', () => {
  it('lowercases and trims', () => {
    expect(normalizeEmail('  Ada.Lovelace@Example.COM \n')).toBe('ada.lovelace@example.com');
  });
  it.each(['', '   ', 'ada', 'ada@', '@example.com', 'ada@example', 'ada lovelace@example.com', `${'a'.repeat(250)}@example.com`])(
    'refuses %j with bad_request',
    (email) => {
      expect(() => normalizeEmail(email)).toThrow(MoongateError);
      expect(() => normalizeEmail(email)).toThrow(expect.objectContaining({ code: 'bad_request', status: 400 }));
    },
  );
});

describeEachDialect((target) => {
  let store: Store;
  let people: PersonStore;
  let applications: ApplicationStore;
  let credentials: CredentialStore;
  /** A second service, inserted by the test, to call with credentials of the first. */
  const other = { id: newId('svc'), slug: 'other-chat-api' };

  beforeAll(async () => {
    store = await openStore(target.location());
    people = new PersonStore(store.db);
    applications = new ApplicationStore(store.db);
    credentials = new CredentialStore(store.db);
    await store.db
      .insertInto('services')
      .values({ id: other.id, slug: other.slug, name: 'Another API', status: 'active', created_at: Date.now() })
      .execute();
  });
  afterAll(async () => {
    await store?.close();
  });

  describe('people', () => {
    it('ensurePerson creates once, whatever the case and spacing of the email', async () => {
      const email = uniqueEmail();
      const first = await people.ensurePerson(email);
      expect(first).toMatchObject({ email, role: 'user', status: 'active' });
      expect(first.id).toMatch(/^per_[0-9a-f]{24}$/);
      expect(await people.ensurePerson(`  ${email.toUpperCase()} `)).toEqual(first);
      const rows = await store.db.selectFrom('people').select('email').where('id', '=', first.id).execute();
      expect(rows).toEqual([{ email }]);
    });

    it('ensurePerson is safe to race', async () => {
      const email = uniqueEmail();
      const results = await Promise.all([1, 2, 3, 4, 5].map(() => people.ensurePerson(email)));
      expect(new Set(results.map((p) => p.id)).size).toBe(1);
    });

    it('ensurePerson refuses a malformed email', async () => {
      await expectCode(people.ensurePerson('not-an-email'), 'bad_request');
    });
  });

  describe('applications', () => {
    it('ensureApplication creates one application per person and service', async () => {
      const person = await people.ensurePerson(uniqueEmail());
      const first = await applications.ensureApplication(person.id, KIMI);
      expect(first).toMatchObject({ personId: person.id, status: 'active' });
      expect(first.id).toMatch(/^app_/);
      expect(await applications.ensureApplication(person.id, KIMI)).toEqual(first);
      const onOther = await applications.ensureApplication(person.id, other.slug);
      expect(onOther.id).not.toBe(first.id);
      expect(onOther.serviceId).toBe(other.id);
    });

    it('refuses an unknown service or person', async () => {
      const person = await people.ensurePerson(uniqueEmail());
      await expectCode(applications.ensureApplication(person.id, 'no-such-service'), 'bad_request');
      await expectCode(applications.ensureApplication('per_missing', KIMI), 'bad_request');
    });
  });

  describe('credentials', () => {
    it('issues a 256-bit token and stores only its SHA-256', async () => {
      const person = await people.ensurePerson(uniqueEmail());
      const { token, credential } = await credentials.issueCredential({ personId: person.id, serviceSlug: KIMI, name: 'laptop' });
      expect(token).toMatch(CREDENTIAL_TOKEN_PATTERN);
      expect(Buffer.from(token.slice(3), 'base64url')).toHaveLength(32);
      expect(credential).toMatchObject({ personId: person.id, serviceSlug: KIMI, global: false, name: 'laptop', status: 'active' });
      expect(credential.id).toMatch(/^cred_[0-9a-f]{24}$/);
      expect(credential.tokenPrefix).toBe(token.slice(0, 10));

      const row = await store.db.selectFrom('credentials').selectAll().where('id', '=', credential.id).executeTakeFirstOrThrow();
      expect(row.token_hash).toBe(createHash('sha256').update(token).digest('hex'));
      // Apart from its digest, the row keeps the listed prefix and not a fragment more.
      const { token_hash: _digest, ...rest } = row;
      const stored = JSON.stringify(rest);
      expect(stored).not.toContain(token);
      expect(stored).not.toContain(token.slice(10, 20));
      expect(stored).not.toContain(token.slice(-10));
      expect(credential).not.toHaveProperty('token');
      expect(JSON.stringify(credential)).not.toContain(row.token_hash);
    });

    it('never issues the same token twice', async () => {
      const person = await people.ensurePerson(uniqueEmail());
      const tokens = new Set<string>();
      for (let i = 0; i < 20; i += 1) tokens.add((await credentials.issueCredential({ personId: person.id, global: true })).token);
      expect(tokens.size).toBe(20);
    });

    it('binds a service credential to the application, and a global one to nothing', async () => {
      const person = await people.ensurePerson(uniqueEmail());
      const bound = await credentials.issueCredential({ personId: person.id, serviceSlug: KIMI });
      const application = await applications.ensureApplication(person.id, KIMI);
      expect(bound.credential.applicationId).toBe(application.id);
      expect(bound.credential.serviceId).toBe(application.serviceId);
      const global = await credentials.issueCredential({ personId: person.id, global: true, name: 'everywhere' });
      expect(global.credential).toMatchObject({ global: true, serviceId: null, serviceSlug: null, applicationId: null });
    });

    it('lists a person’s credentials, oldest first, without secrets', async () => {
      const person = await people.ensurePerson(uniqueEmail());
      const a = await credentials.issueCredential({ personId: person.id, serviceSlug: KIMI, name: 'a' }, 1_000);
      const b = await credentials.issueCredential({ personId: person.id, global: true, name: 'b' }, 2_000);
      const listed = await credentials.listCredentials(person.id);
      expect(listed.map((c) => c.id)).toEqual([a.credential.id, b.credential.id]);
      expect(listed.map((c) => c.createdAt)).toEqual([1_000, 2_000]);
      const text = JSON.stringify(listed);
      expect(text).not.toContain(a.token);
      expect(text).not.toContain(b.token);
      expect(Object.keys(listed[0] ?? {})).not.toContain('tokenHash');
    });

    it('refuses an expiry in the past, an empty name or an unknown person', async () => {
      const person = await people.ensurePerson(uniqueEmail());
      await expectCode(credentials.issueCredential({ personId: person.id, serviceSlug: KIMI, expiresAt: Date.now() - 1 }), 'bad_request');
      await expectCode(credentials.issueCredential({ personId: person.id, serviceSlug: KIMI, name: '  ' }), 'bad_request');
      await expectCode(credentials.issueCredential({ personId: 'per_missing', global: true }), 'bad_request');
    });

    it('revokes for good, keeping the first revocation time', async () => {
      const person = await people.ensurePerson(uniqueEmail());
      const { credential } = await credentials.issueCredential({ personId: person.id, serviceSlug: KIMI });
      const revoked = await credentials.revokeCredential(credential.id, 5_000);
      expect(revoked).toMatchObject({ status: 'revoked', revokedAt: 5_000 });
      expect(await credentials.revokeCredential(credential.id, 6_000)).toMatchObject({ revokedAt: 5_000 });
      await expectCode(credentials.setCredentialStatus(credential.id, 'active'), 'bad_request');
      await expectCode(credentials.revokeCredential('cred_missing'), 'bad_request');
    });
  });

  describe('authenticate', () => {
    async function issue(options: { global?: boolean; expiresAt?: number } = {}) {
      const person = await people.ensurePerson(uniqueEmail());
      const issued = await credentials.issueCredential(
        options.global === true
          ? { personId: person.id, global: true, expiresAt: options.expiresAt }
          : { personId: person.id, serviceSlug: KIMI, expiresAt: options.expiresAt },
      );
      return { person, ...issued };
    }

    it('accepts a service credential on its service, in one query', async () => {
      const { token, credential, person } = await issue();
      const kimi = await store.db.selectFrom('services').select('id').where('slug', '=', KIMI).executeTakeFirstOrThrow();
      const counter = new QueryCounter();
      const result = await authenticate(`Bearer ${token}`, KIMI, { db: store.db.withPlugin(counter) });
      expect(result).toEqual({
        credentialId: credential.id,
        personId: person.id,
        applicationId: credential.applicationId,
        serviceId: kimi.id,
        global: false,
        limits: { rps: null, concurrency: null },
        personLimits: { rps: null, concurrency: null },
      });
      expect(counter.count).toBe(1);
    });

    it('takes the scheme in any case and tolerates extra spaces', async () => {
      const { token, credential } = await issue();
      for (const header of [`bearer ${token}`, `BEARER ${token}`, `Bearer   ${token}`, `  Bearer ${token}  `]) {
        expect((await authenticate(header, KIMI, store)).credentialId).toBe(credential.id);
      }
    });

    it('no_token when the header is missing or empty', async () => {
      for (const header of [undefined, '', '   ']) {
        const error = await expectCode(authenticate(header, KIMI, store), 'no_token');
        expect(error.status).toBe(400);
      }
    });

    it('invalid_token when the header is not `Bearer <token>`, without a query', async () => {
      const { token } = await issue();
      const counter = new QueryCounter();
      const db = { db: store.db.withPlugin(counter) };
      for (const header of [token, `Basic ${token}`, 'Bearer', `Bearer ${token} extra`, `Bearer ${token}x`, 'Bearer mg-short', `Token ${token}`]) {
        const error = await expectCode(authenticate(header, KIMI, db), 'invalid_token');
        expect(error.status).toBe(401);
        expect(error.message).not.toContain(token);
      }
      expect(counter.count).toBe(0);
    });

    it('invalid_token for a well-formed token nobody issued', async () => {
      const unknown = `mg-${randomBytes(32).toString('base64url')}`;
      await expectCode(authenticate(`Bearer ${unknown}`, KIMI, store), 'invalid_token');
    });

    it('invalid_token once revoked', async () => {
      const { token, credential } = await issue();
      await credentials.revokeCredential(credential.id);
      const error = await expectCode(authenticate(`Bearer ${token}`, KIMI, store), 'invalid_token');
      expect(error.message).toBe('The specified token is invalid or wrong.');
    });

    it('token_expired from the expiry instant on', async () => {
      const now = Date.now();
      const { token } = await issue({ expiresAt: now + 60_000 });
      await expect(authenticate(`Bearer ${token}`, KIMI, store, now + 59_999)).resolves.toBeDefined();
      const error = await expectCode(authenticate(`Bearer ${token}`, KIMI, store, now + 60_000), 'token_expired');
      expect(error.status).toBe(401);
    });

    it('token_expired for a credential whose stored expiry has passed', async () => {
      const { token, credential } = await issue({ global: true, expiresAt: Date.now() + 60_000 });
      await store.db.updateTable('credentials').set({ expires_at: Date.now() - 1 }).where('id', '=', credential.id).execute();
      await expectCode(authenticate(`Bearer ${token}`, KIMI, store), 'token_expired');
    });

    it('disabled while the credential is disabled, and back once re-enabled', async () => {
      const { token, credential } = await issue();
      await credentials.setCredentialStatus(credential.id, 'disabled');
      const error = await expectCode(authenticate(`Bearer ${token}`, KIMI, store), 'disabled');
      expect(error.status).toBe(403);
      await credentials.setCredentialStatus(credential.id, 'active');
      await expect(authenticate(`Bearer ${token}`, KIMI, store)).resolves.toMatchObject({ credentialId: credential.id });
    });

    it('disabled while the person is disabled, for service and global credentials', async () => {
      const { token, person } = await issue();
      const global = await credentials.issueCredential({ personId: person.id, global: true });
      await people.setPersonStatus(person.id, 'disabled');
      await expectCode(authenticate(`Bearer ${token}`, KIMI, store), 'disabled');
      await expectCode(authenticate(`Bearer ${global.token}`, KIMI, store), 'disabled');
      await people.setPersonStatus(person.id, 'active');
      await expect(authenticate(`Bearer ${token}`, KIMI, store)).resolves.toBeDefined();
    });

    it('disabled while the application is disabled', async () => {
      const { token, credential } = await issue();
      await applications.setApplicationStatus(credential.applicationId!, 'disabled');
      await expectCode(authenticate(`Bearer ${token}`, KIMI, store), 'disabled');
    });

    it('token_mismatched for a service credential on another service', async () => {
      const { token } = await issue();
      const error = await expectCode(authenticate(`Bearer ${token}`, other.slug, store), 'token_mismatched');
      expect(error.status).toBe(400);
      expect(error.message).toBe('The specified token is not matched with API.');
    });

    it('accepts a global credential on every service', async () => {
      const { token, credential, person } = await issue({ global: true });
      for (const service of [KIMI, other.slug]) {
        const serviceRow = await store.db.selectFrom('services').select('id').where('slug', '=', service).executeTakeFirstOrThrow();
        await expect(authenticate(`Bearer ${token}`, service, store)).resolves.toEqual({
          credentialId: credential.id,
          personId: person.id,
          applicationId: null,
          serviceId: serviceRow.id,
          global: true,
          limits: { rps: null, concurrency: null },
        personLimits: { rps: null, concurrency: null },
        });
      }
    });

    it('api_error, not the client’s fault, when the called service is not in the store', async () => {
      const { token } = await issue({ global: true });
      await expectCode(authenticate(`Bearer ${token}`, 'never-seeded', store), 'api_error');
    });
  });
});
