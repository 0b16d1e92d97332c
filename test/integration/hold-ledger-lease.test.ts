/**
 * PostgreSQL instance leases (docs/billing.md, "Crashes: holds whose request is gone"):
 * replicas on one schema, each a HoldLedger on a clock of the test's own, whose beats the
 * test runs itself (the interval timer is faked and never fires). A replica's store can be
 * cut off, as in an outage of PostgreSQL: every query it sends then fails.
 *
 * Found by a review: after an outage longer than the lease, the first replica whose beat
 * landed swept the others as dead (their live holds given back, their rows deleted), and a
 * swept replica never registered again, so each later hold of its went the same way.
 */
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it, vi } from 'vitest';
import { HoldLedger, type HoldLedgerTrouble } from '../../src/billing/hold-ledger.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { fundedCredential } from '../helpers/funded-credential.js';
import { describeWithPostgres } from '../helpers/postgres.js';
import { useTempDir } from '../helpers/temp-dir.js';

const LEASE_MS = 60_000;
/** A third of the lease: the ledger's heartbeat interval. */
const BEAT_MS = 20_000;

/** Fails every query while `down`, as a store that cannot be reached does. */
class Outage implements KyselyPlugin {
  down = false;

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    if (this.down) throw new Error('connect ECONNREFUSED 127.0.0.1:5432 (a simulated outage)');
    return args.node;
  }

  transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return Promise.resolve(args.result);
  }
}

interface Replica {
  ledger: HoldLedger;
  outage: Outage;
  troubles: HoldLedgerTrouble[];
}

describeWithPostgres('instance leases on PostgreSQL', (schema) => {
  const dir = useTempDir();
  let store: Store;
  let now = 1_000_000;
  const started: Replica[] = [];

  beforeAll(async () => {
    store = await openStore({ dataDir: dir.path, databaseUrl: schema.url });
  });
  afterAll(async () => {
    await store.close();
  });
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
  });
  afterEach(async () => {
    for (const replica of started.splice(0)) {
      replica.outage.down = false;
      await replica.ledger.close();
    }
    vi.useRealTimers();
  });

  async function replica(): Promise<Replica> {
    const outage = new Outage();
    const troubles: HoldLedgerTrouble[] = [];
    const ledger = new HoldLedger({ db: store.db.withPlugin(outage), sqlite: null }, { leaseMs: LEASE_MS, now: () => now, onTrouble: (t) => troubles.push(t) });
    await ledger.start();
    const made = { ledger, outage, troubles };
    started.push(made);
    return made;
  }

  /** One beat interval later, each replica beats (at once); returns what each gave back. */
  async function beatInterval(...replicas: Replica[]): Promise<number[]> {
    now += BEAT_MS;
    return Promise.all(replicas.map((r) => r.ledger.beat()));
  }

  async function held(walletId: string): Promise<number> {
    return (await store.db.selectFrom('wallets').select('held').where('id', '=', walletId).executeTakeFirstOrThrow()).held;
  }

  async function holdsOf(replica: Replica): Promise<string[]> {
    const rows = await store.db.selectFrom('holds').select('trace_id').where('instance_id', '=', replica.ledger.instanceId).orderBy('trace_id').execute();
    return rows.map((r) => r.trace_id);
  }

  async function registered(replica: Replica): Promise<boolean> {
    return (await store.db.selectFrom('instances').select('id').where('id', '=', replica.ledger.instanceId).executeTakeFirst()) !== undefined;
  }

  it.each([
    ['every beat fails', true],
    ['no beat runs (the process is paused)', false],
  ])('after an outage longer than the lease (%s), the first replica back does not take the others for dead', async (_, beatsFail) => {
    const caller = await fundedCredential(store, `outage-${String(beatsFail)}@example.com`, { balance: 500 });
    const wallet = { personId: caller.personId, applicationId: null };
    const a = await replica();
    const b = await replica();
    // Both have beaten for more than a lease: either may sweep.
    for (let i = 0; i < 4; i++) expect(await beatInterval(a, b)).toEqual([0, 0]);
    expect(await a.ledger.hold('a-live', wallet, 306)).toBe(caller.personId);

    // PostgreSQL is away for 100 s, longer than the lease.
    a.outage.down = b.outage.down = true;
    for (let i = 0; i < 5; i++) {
      now += BEAT_MS;
      if (beatsFail) {
        await expect(a.ledger.beat()).rejects.toThrow(/ECONNREFUSED/);
        await expect(b.ledger.beat()).rejects.toThrow(/ECONNREFUSED/);
      }
    }
    a.outage.down = b.outage.down = false;

    // B's beat lands first. A's heartbeat is 100 s old, but B was not up while A missed it.
    now += 1_000;
    expect(await b.ledger.beat()).toBe(0);
    expect(await holdsOf(a)).toEqual(['a-live']);
    expect(await held(caller.personId)).toBe(306);
    // The review's overspend: B could hold the same money again (500 - 306 < 306).
    expect(await b.ledger.hold('b-again', wallet, 306)).toBeNull();

    // A beats next: its row is still there, nothing to report.
    now += 2_000;
    expect(await a.ledger.beat()).toBe(0);
    expect(await registered(a)).toBe(true);
    expect(a.troubles).toEqual([]);

    // Two leases of beats on both: nobody is swept, A's hold stays until A settles it.
    for (let i = 0; i < 6; i++) expect(await beatInterval(b, a)).toEqual([0, 0]);
    expect(await holdsOf(a)).toEqual(['a-live']);
    expect(await held(caller.personId)).toBe(306);
    expect(await registered(a)).toBe(true);
    expect(await registered(b)).toBe(true);
  });

  it('a replica swept as dead registers again at its next beat and says so; its later holds are not swept', async () => {
    const caller = await fundedCredential(store, 'swept@example.com', { balance: 1_000 });
    const wallet = { personId: caller.personId, applicationId: null };
    const a = await replica();
    const b = await replica();
    for (let i = 0; i < 4; i++) await beatInterval(a, b);
    const lastBeatAt = now;
    expect(await a.ledger.hold('a-old', wallet, 200)).toBe(caller.personId);

    // A alone is cut off for longer than the lease while B beats: B takes A for dead.
    a.outage.down = true;
    const released: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [byB] = await beatInterval(b);
      released.push(byB ?? 0);
      await expect(a.ledger.beat()).rejects.toThrow(/ECONNREFUSED/);
    }
    expect(released.reduce((sum, n) => sum + n, 0)).toBe(1);
    expect(await registered(a)).toBe(false);
    expect(await held(caller.personId)).toBe(0);

    // A is back, and a request reaches it before its next beat: its hold has no row of A's behind it.
    a.outage.down = false;
    now += 1_000;
    expect(await a.ledger.hold('a-new', wallet, 300)).toBe(caller.personId);
    // B beats first; the hold is younger than the lease, so B leaves it.
    now += 1_000;
    expect(await b.ledger.beat()).toBe(0);
    expect(await holdsOf(a)).toEqual(['a-new']);

    // A's beat finds its row gone, registers again and reports it.
    now += 1_000;
    expect(await a.ledger.beat()).toBe(0);
    expect(await registered(a)).toBe(true);
    expect(a.troubles).toHaveLength(1);
    expect(a.troubles[0]).toMatchObject({ kind: 'swept', instanceId: a.ledger.instanceId, lastBeatAt });
    expect(a.troubles[0]?.error.message).toContain(a.ledger.instanceId);

    // What A holds stays held while both beat, two leases long; the report was made once.
    for (let i = 0; i < 6; i++) expect(await beatInterval(b, a)).toEqual([0, 0]);
    expect(await holdsOf(a)).toEqual(['a-new']);
    expect(await held(caller.personId)).toBe(300);
    expect(a.troubles).toHaveLength(1);
  });

  it('a replica that really stopped beating has its holds given back once, by one that beat the whole lease', async () => {
    const caller = await fundedCredential(store, 'dead@example.com', { balance: 1_000 });
    const wallet = { personId: caller.personId, applicationId: null };
    const dead = await replica();
    const b = await replica();
    const c = await replica();
    for (let i = 0; i < 4; i++) await beatInterval(dead, b, c);
    expect(await dead.ledger.hold('dead-1', wallet, 400)).toBe(caller.personId);
    expect(await b.ledger.hold('b-live', wallet, 100)).toBe(caller.personId);

    // `dead` stops beating for good (killed). B beats on; C is paused for 90 s from now (no
    // beat runs), so when it comes back its own run of beats starts again.
    const byB: number[] = [];
    for (let i = 0; i < 3; i++) {
      const [released] = await beatInterval(b);
      byB.push(released ?? 0);
    }
    // Within the lease of dead's last beat: nothing is given back.
    expect(byB).toEqual([0, 0, 0]);
    expect(await held(caller.personId)).toBe(500);

    // Past the lease. C's beat runs first: it was not up all that time, so it leaves them.
    now += BEAT_MS;
    expect(await c.ledger.beat()).toBe(0);
    expect(await held(caller.personId)).toBe(500);
    // B was: dead's hold goes back, once, and dead's row goes.
    expect(await b.ledger.beat()).toBe(1);
    expect(await held(caller.personId)).toBe(100);
    expect(await holdsOf(dead)).toEqual([]);
    expect(await registered(dead)).toBe(false);

    // Later beats (B and C at the same moment) give nothing back twice.
    for (let i = 0; i < 4; i++) expect(await beatInterval(b, c)).toEqual([0, 0]);
    expect(await holdsOf(b)).toEqual(['b-live']);
    expect(await held(caller.personId)).toBe(100);
  });
});
