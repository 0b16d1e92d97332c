/**
 * Console accounts: registering with an email and a password, logging in and out, and
 * changing the password. Sessions come from session-store.ts; failed logins are counted
 * by limits/login-throttle.ts.
 *
 * The operator: made by `moongate admin create`, or by registering through the one-time
 * setup link the server prints at start while there is no active operator (setup-link.ts,
 * docs/security.md). A plain registration is never the operator, even the first one.
 */
import type { Kysely } from 'kysely';
import { MoongateError } from '../contract/errors.js';
import type { Database, PersonRole } from '../store/database.js';
import type { StoreDialect } from '../store/migrate-to-latest.js';
import { newId } from '../store/new-id.js';
import { LoginThrottle } from '../limits/login-throttle.js';
import { activeOperatorIds, withOperatorLock } from './operator-roles.js';
import { burnPasswordCheck, hashPassword, verifyPassword } from './password-hash.js';
import { checkPasswordLength, checkPasswordRules } from './password-rules.js';
import { normalizeEmail, PersonStore, type Person } from './person-store.js';
import { SessionStore, type OpenedSession } from './session-store.js';
import type { SetupLink } from './setup-link.js';
import { RegistrationThrottle } from '../limits/registration-throttle.js';

export interface LoggedIn extends OpenedSession {
  person: Person;
}

export interface AccountServiceOptions {
  db: Kysely<Database>;
  dialect: StoreDialect;
  sessions: SessionStore;
  throttle?: LoginThrottle;
  /** The one-time setup link printed at start on a fresh install; without it, nobody registers as the operator. */
  setup?: SetupLink | undefined;
  /** Registrations per client address and hour (default: 10 per hour, in this process). */
  registrations?: RegistrationThrottle;
}


/** The same answer for an unknown email and a wrong password, so a login reveals neither. */
const WRONG_LOGIN = 'The email or password is wrong.';

const SETUP_LINK_REFUSED =
  'the setup link is not valid: it was used, it expired, the server restarted, or an operator exists already (restart for a new link, or run moongate admin create)';

export class AccountService {
  readonly #db: Kysely<Database>;
  readonly #dialect: StoreDialect;
  readonly #people: PersonStore;
  readonly #throttle: LoginThrottle;
  /** Every new account can take a free quota, so one address may open only a few an hour. */
  readonly #registrations: RegistrationThrottle;
  readonly #setup: SetupLink | undefined;
  readonly sessions: SessionStore;

  constructor(options: AccountServiceOptions) {
    this.#db = options.db;
    this.#dialect = options.dialect;
    this.#people = new PersonStore(options.db);
    this.sessions = options.sessions;
    this.#throttle = options.throttle ?? new LoginThrottle();
    this.#registrations = options.registrations ?? new RegistrationThrottle();
    this.#setup = options.setup;
  }

  /**
   * A new person with a password, logged in. An email already known (registered, or made
   * by the CLI without a password) is refused: without a verified mailbox, claiming it
   * would hand someone else's credentials to whoever registers first.
   *
   * A registration is an ordinary user, unless it presents the setup link's token while
   * there is no active operator (setup-link.ts): then it is the operator. Deciding that and
   * inserting is one step under the operator lock, so two registrations cannot both be.
   */
  async register(
    input: { email: string; password: string; setupToken?: string | undefined; address?: string | undefined; userAgent?: string | undefined },
    now: number = Date.now(),
  ): Promise<LoggedIn> {
    const email = normalizeEmail(input.email);
    checkPasswordRules(input.password, email);
    if (input.address !== undefined) await this.#registrations.take(input.address, now);
    const claim = input.setupToken === undefined ? undefined : this.#setup?.claim(input.setupToken, now);
    if (input.setupToken !== undefined && claim === undefined) throw new MoongateError('bad_request', SETUP_LINK_REFUSED);
    try {
      const passwordHash = await hashPassword(input.password);
      const id = newId('per');
      const role: PersonRole = claim === undefined ? 'user' : 'admin';
      await withOperatorLock(this.#db, this.#dialect, async (trx) => {
        if (role === 'admin' && (await activeOperatorIds(trx, 1)).length > 0) {
          // Someone became the operator another way (the CLI) since the link was printed.
          this.#setup?.retire();
          throw new MoongateError('bad_request', SETUP_LINK_REFUSED);
        }
        await trx
          .insertInto('people')
          .values({ id, email, role, status: 'active', created_at: now, password_hash: passwordHash })
          .onConflict((conflict) => conflict.column('email').doNothing())
          .execute();
      });
      const person = await this.#people.findPersonByEmail(email);
      // Someone else's row holds the email when ours was not inserted.
      if (person?.id !== id) throw new MoongateError('bad_request', 'email is already registered; log in instead');
      return { person, ...(await this.sessions.createSession(person.id, input.userAgent, now)) };
    } catch (error) {
      // The link was not spent on an operator: it stays usable (unless retired above).
      claim?.release();
      throw error;
    }
  }

  /** Email and password → a new session. `address` is the client's IP, for the throttle. */
  async login(
    input: { email: string; password: string; address: string; userAgent?: string | undefined },
    now: number = Date.now(),
  ): Promise<LoggedIn> {
    const email = normalizeEmail(input.email);
    checkPasswordLength(input.password);
    const attempt = await this.#throttle.admit(email, input.address, now);
    let check: { ok: boolean; stale: boolean };
    let person: Person | undefined;
    try {
      person = await this.#people.findPersonByEmail(email);
      const passwordHash = person === undefined ? null : await this.#people.getPasswordHash(person.id);
      if (passwordHash === null) {
        await burnPasswordCheck(input.password);
        check = { ok: false, stale: false };
      } else {
        check = await verifyPassword(input.password, passwordHash);
      }
    } catch (error) {
      attempt.failed();
      throw error;
    }
    if (person === undefined || !check.ok) {
      attempt.failed();
      throw new MoongateError('invalid_token', WRONG_LOGIN);
    }
    attempt.succeeded();
    // Only someone who knows the password learns that the account is disabled.
    if (person.status !== 'active') throw new MoongateError('disabled', 'This account has been disabled.');
    if (check.stale) await this.#people.setPasswordHash(person.id, await hashPassword(input.password));
    return { person, ...(await this.sessions.createSession(person.id, input.userAgent, now)) };
  }

  /**
   * Checks the current password (throttled like a login: a stolen session must not become
   * a password oracle), stores the new one and logs the person out of every other session.
   */
  async changePassword(
    input: { personId: string; sessionId: string; current: string; next: string; address: string },
    now: number = Date.now(),
  ): Promise<void> {
    const person = await this.#people.getPerson(input.personId);
    checkPasswordLength(input.current, 'current');
    const attempt = await this.#throttle.admit(person.email, input.address, now);
    let check: { ok: boolean };
    try {
      const passwordHash = await this.#people.getPasswordHash(person.id);
      check = passwordHash === null ? { ok: false } : await verifyPassword(input.current, passwordHash);
    } catch (error) {
      attempt.failed();
      throw error;
    }
    if (!check.ok) {
      attempt.failed();
      throw new MoongateError('bad_request', 'current is not the current password');
    }
    attempt.succeeded();
    checkPasswordRules(input.next, person.email, 'next');
    await this.#people.setPasswordHash(person.id, await hashPassword(input.next));
    await this.sessions.revokePersonSessions(person.id, input.sessionId);
  }

  /** `moongate admin reset`: a new password (the usual rules), and every session of the person ends. */
  async resetPassword(personId: string, password: string): Promise<void> {
    const person = await this.#people.getPerson(personId);
    checkPasswordRules(password, person.email);
    await this.#people.setPasswordHash(person.id, await hashPassword(password));
    await this.sessions.revokePersonSessions(person.id);
  }

  /**
   * `moongate admin create`: the person (made if missing) becomes an admin with this
   * password. Like any password change, it ends the person's sessions.
   */
  async createAdmin(input: { email: string; password: string }, now: number = Date.now()): Promise<Person> {
    const email = normalizeEmail(input.email);
    checkPasswordRules(input.password, email);
    const person = await this.#people.ensurePerson(email, now);
    await this.#people.setPasswordHash(person.id, await hashPassword(input.password));
    await this.sessions.revokePersonSessions(person.id);
    return this.#people.setPersonRole(person.id, 'admin');
  }
}
