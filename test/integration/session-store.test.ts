/** SessionStore and AccountService on SQLite and PostgreSQL, with the clock passed in. */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SetupLink } from '../../src/accounts/setup-link.js';
import { AccountService } from '../../src/accounts/account-service.js';
import { PersonStore } from '../../src/accounts/person-store.js';
import { SessionStore } from '../../src/accounts/session-store.js';
import { MoongateError } from '../../src/contract/errors.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { describeEachDialect } from '../helpers/postgres.js';

const DAY = 86_400_000;
let counter = 0;
const uniqueEmail = (): string => `sessions-${++counter}-${randomBytes(3).toString('hex')}@example.com`;

describeEachDialect((target) => {
  let store: Store;
  let sessions: SessionStore;
  let people: PersonStore;

  beforeAll(async () => {
    store = await openStore(target.location());
    sessions = new SessionStore(store.db, 30 * DAY);
    people = new PersonStore(store.db);
  });
  afterAll(async () => {
    await store?.close();
  });

  describe('SessionStore', () => {
    it('finds a session by its id, slides its expiry at most once a minute, and expires it after the TTL idle', async () => {
      const person = await people.ensurePerson(uniqueEmail());
      const t0 = 1_800_000_000_000;
      const { sessionId, session } = await sessions.createSession(person.id, 'test agent', t0);
      expect(sessionId).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(session.expiresAt).toBe(t0 + 30 * DAY);

      const soon = await sessions.findSession(sessionId, t0 + 30_000);
      expect(soon).toMatchObject({ refreshed: false, session: { expiresAt: t0 + 30 * DAY }, person: { id: person.id, role: 'user' } });
      const later = await sessions.findSession(sessionId, t0 + 10 * DAY);
      expect(later).toMatchObject({ refreshed: true, session: { expiresAt: t0 + 40 * DAY, lastSeenAt: t0 + 10 * DAY } });
      expect(await sessions.findSession(sessionId, t0 + 39 * DAY)).toBeDefined();
      expect(await sessions.findSession(sessionId, t0 + 39 * DAY + 30 * DAY)).toBeUndefined();
      expect(await sessions.findSession(randomBytes(32).toString('base64url'), t0)).toBeUndefined();
      expect(await sessions.findSession('not a session id', t0)).toBeUndefined();
    });

    it('creating a session sweeps expired ones (at most hourly)', async () => {
      const person = await people.ensurePerson(uniqueEmail());
      const own = new SessionStore(store.db, DAY);
      const t0 = 1_700_000_000_000;
      const old = await own.createSession(person.id, undefined, t0);
      const stillLive = await own.createSession(person.id, undefined, t0 + DAY - 1);
      const count = async (): Promise<number> =>
        (await store.db.selectFrom('sessions').select('id').where('person_id', '=', person.id).execute()).length;
      expect(await count()).toBe(2);
      // An hour after the old one expired: it goes, the one still live stays, the new one is added.
      await own.createSession(person.id, undefined, t0 + DAY + 3_600_000);
      expect(await count()).toBe(2);
      const rows = await store.db.selectFrom('sessions').select('id').where('person_id', '=', person.id).execute();
      expect(rows.map((r) => r.id)).not.toContain(old.session.id);
      expect(rows.map((r) => r.id)).toContain(stillLive.session.id);
    });

    it('revokes one session, or all of a person\'s but one, and refuses sessions of a disabled person', async () => {
      const person = await people.ensurePerson(uniqueEmail());
      const other = await people.ensurePerson(uniqueEmail());
      const a = await sessions.createSession(person.id);
      const b = await sessions.createSession(person.id);
      const c = await sessions.createSession(person.id);
      const theirs = await sessions.createSession(other.id);
      await sessions.revokeSession(a.session.id);
      expect(await sessions.findSession(a.sessionId)).toBeUndefined();
      expect(await sessions.revokePersonSessions(person.id, b.session.id)).toBe(1);
      expect(await sessions.findSession(b.sessionId)).toBeDefined();
      expect(await sessions.findSession(c.sessionId)).toBeUndefined();
      expect(await sessions.findSession(theirs.sessionId)).toBeDefined();
      await people.setPersonStatus(person.id, 'disabled');
      expect(await sessions.findSession(b.sessionId)).toBeUndefined();
    });
  });

  describe('AccountService', () => {
    it('makes exactly one admin when registrations through the setup link race, and none without it', async () => {
      const fresh = await target.freshLocation();
      const own = await openStore(fresh.options);
      try {
        const issued = await SetupLink.issue(own.db);
        if (issued === undefined) throw new Error('a fresh store has no operator, so it gets a setup link');
        const accounts = new AccountService({ db: own.db, dialect: own.dialect, sessions: new SessionStore(own.db), setup: issued.link });
        const plain = await accounts.register({ email: uniqueEmail(), password: 'correct horse battery' });
        expect(plain.person.role).toBe('user');
        const attempts = await Promise.allSettled(
          [1, 2, 3, 4].map(() => accounts.register({ email: uniqueEmail(), password: 'correct horse battery', setupToken: issued.token })),
        );
        const registered = attempts.flatMap((a) => (a.status === 'fulfilled' ? [a.value.person.role] : []));
        expect(registered).toEqual(['admin']);
        // An operator exists now: a new link is not issued.
        expect(await SetupLink.issue(own.db)).toBeUndefined();
      } finally {
        await own.close();
        await fresh.remove();
      }
    });

    it('admin create makes a CLI-made person an admin who can log in, and a disabled person cannot log in', async () => {
      const accounts = new AccountService({ db: store.db, dialect: store.dialect, sessions });
      const email = uniqueEmail();
      await people.ensurePerson(email);
      const admin = await accounts.createAdmin({ email, password: 'operator password' });
      expect(admin.role).toBe('admin');
      const loggedIn = await accounts.login({ email, password: 'operator password', address: '10.1.1.1' });
      expect(loggedIn.person.id).toBe(admin.id);
      // Setting the password again (a forgotten one, say) ends the sessions opened with the old.
      await accounts.createAdmin({ email, password: 'new operator password' });
      expect(await sessions.findSession(loggedIn.sessionId)).toBeUndefined();
      await accounts.login({ email, password: 'new operator password', address: '10.1.1.1' });
      await people.setPersonStatus(admin.id, 'disabled');
      const refused = await accounts.login({ email, password: 'new operator password', address: '10.1.1.1' }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(MoongateError);
      expect((refused as MoongateError).code).toBe('disabled');
    });
  });
});
