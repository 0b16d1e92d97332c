import type { Kysely } from 'kysely';
import { MoongateError } from '../contract/errors.js';
import type { ApplicationRow, ApplicationStatus, Database } from '../store/database.js';
import { newId } from '../store/new-id.js';
import { defaultFreeQuota } from '../billing/price-list.js';
import { openQuotaWallet } from '../billing/wallet-store.js';

export interface ApplicationStoreOptions {
  /** Micro-units the person's first application gets (the operator's MOONGATE_FREE_QUOTA). */
  freeQuota?: number | undefined;
}

/** A person's application for one service: what service credentials and, later, quota belong to. */
export interface Application {
  id: string;
  personId: string;
  serviceId: string;
  status: ApplicationStatus;
  createdAt: number;
}

export class ApplicationStore {
  readonly #db: Kysely<Database>;
  readonly #freeQuota: number;

  constructor(db: Kysely<Database>, options: ApplicationStoreOptions = {}) {
    this.#db = db;
    this.#freeQuota = options.freeQuota ?? defaultFreeQuota();
  }

  /** Returns the person's application for the service, creating it first if there is none. */
  async ensureApplication(personId: string, serviceSlug: string, now: number = Date.now()): Promise<Application> {
    const service = await this.#db.selectFrom('services').select('id').where('slug', '=', serviceSlug).executeTakeFirst();
    if (service === undefined) throw new MoongateError('bad_request', `service ${serviceSlug} does not exist`);
    const person = await this.#db.selectFrom('people').select('id').where('id', '=', personId).executeTakeFirst();
    if (person === undefined) throw new MoongateError('bad_request', `person ${personId} does not exist`);
    // Insert-or-nothing on the (person, service) unique constraint, then read: concurrent
    // "Acquire" clicks end up with the one application. Its quota wallet (and the person's
    // free quota, once) comes in the same transaction, so no application lacks one.
    const row = await this.#db.transaction().execute(async (trx) => {
      await trx
        .insertInto('applications')
        .values({ id: newId('app'), person_id: personId, service_id: service.id, status: 'active', created_at: now })
        .onConflict((conflict) => conflict.columns(['person_id', 'service_id']).doNothing())
        .execute();
      const application = await trx
        .selectFrom('applications')
        .selectAll()
        .where('person_id', '=', personId)
        .where('service_id', '=', service.id)
        .executeTakeFirstOrThrow();
      await openQuotaWallet(trx, application.id, personId, this.#freeQuota, now);
      return application;
    });
    return toApplication(row);
  }

  /**
   * Claims the right to issue the application's first credential: true for exactly one
   * caller, however many replicas ask at the same moment (one conditional update: on
   * PostgreSQL a second update waits for the first's row lock and then finds the row taken;
   * SQLite has one writer at a time). False when it was claimed before or the application
   * has a credential already. Acquire issues the credential after a true.
   */
  async claimFirstCredential(applicationId: string, now: number = Date.now()): Promise<boolean> {
    const claimed = await this.#db
      .updateTable('applications')
      .set({ first_credential_at: now })
      .where('id', '=', applicationId)
      .where('first_credential_at', 'is', null)
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('credentials').select('credentials.id').where('credentials.application_id', '=', applicationId))),
      )
      .executeTakeFirst();
    return claimed.numUpdatedRows > 0n;
  }

  /** Gives a claim back when issuing the credential failed, so the next Acquire can try again. */
  async releaseFirstCredentialClaim(applicationId: string): Promise<void> {
    await this.#db.updateTable('applications').set({ first_credential_at: null }).where('id', '=', applicationId).execute();
  }

  async getApplication(id: string): Promise<Application> {
    const row = await this.#db.selectFrom('applications').selectAll().where('id', '=', id).executeTakeFirst();
    if (row === undefined) throw new MoongateError('bad_request', `application ${id} does not exist`);
    return toApplication(row);
  }

  async setApplicationStatus(id: string, status: ApplicationStatus): Promise<Application> {
    await this.#db.updateTable('applications').set({ status }).where('id', '=', id).execute();
    return this.getApplication(id);
  }
}

function toApplication(row: ApplicationRow): Application {
  return {
    id: row.id,
    personId: row.person_id,
    serviceId: row.service_id,
    status: row.status,
    createdAt: row.created_at,
  };
}
