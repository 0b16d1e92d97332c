/**
 * The server's credential cache (issue 20): a token seen in the last second skips its query,
 * and no change outlives it where it must not (docs/security.md, "Credential cache"):
 * - from the console and admin APIs: the next request sees it, on this server at once;
 * - from the CLI without Redis (another process): within the TTL, 1 s of the server's clock;
 * - on PostgreSQL with REDIS_URL: on the other replica as soon as the change bus delivers the
 *   message, from the console or the CLI (the test waits for that delivery, not for a time).
 * The servers' clocks are frozen here, so a refusal that comes "at once" came from the
 * change bus, never from the TTL running out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialStore } from '../../src/accounts/credential-store.js';
import { DEFAULT_CREDENTIAL_CACHE_TTL_MS } from '../../src/accounts/credential-cache.js';
import { ConsoleClient } from '../helpers/console-client.js';
import { ensureBuilt, runMoongate } from '../helpers/moongate-cli.js';
import { describeWithPostgres } from '../helpers/postgres.js';
import { TEST_REDIS_URL, redisAvailable, useRedisPrefix } from '../helpers/redis.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const HELLO = { model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 20 };
const ENV = { MOONGATE_FREE_QUOTA: '1.5', REGISTRATIONS_PER_HOUR: '1000' };

async function chat(server: TestServer, token: string): Promise<string> {
  const res = await fetch(`${server.url}/kimi/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(HELLO),
  });
  const body = (await res.json()) as { error?: { code: string } };
  return res.status === 200 ? 'ok' : `${res.status} ${body.error?.code}`;
}

/** A person registered on `server`'s console, with a credential made there. */
async function personWithCredential(server: TestServer, setupToken?: string) {
  const person = await ConsoleClient.newPerson(server.server.app, undefined, setupToken);
  const made = await person.browser.request<{ credential: { id: string }; token: string }>('POST', '/api/credentials', { body: { name: 'cached' } });
  expect(made.status, made.text).toBe(201);
  return { ...person, credentialId: made.body.credential.id, token: made.body.token };
}

/**
 * Resolves once `server`'s change bus has delivered the change of this credential. Its cache
 * subscribed first, at start-up, so by then the cache has dropped the entry: what follows is
 * what a request gets once the message is in, with no race against the Redis subscriber's
 * socket (the clocks stay frozen, so a refusal still cannot come from the TTL).
 */
function heard(server: TestServer, credentialId: string): Promise<void> {
  return new Promise((resolve) => {
    const stop = server.server.changes.subscribe((change) => {
      if (change.kind !== 'credential' || change.id !== credentialId) return;
      stop();
      resolve();
    });
  });
}

beforeAll(ensureBuilt, 180_000);

describe('on one server (SQLite)', () => {
  let clock = 1_700_000_000_000;
  let moongate: TestServer;
  let admin: ConsoleClient;

  beforeAll(async () => {
    moongate = await startTestServer({ env: ENV, now: () => clock });
    admin = (await ConsoleClient.newPerson(moongate.server.app, undefined, moongate.setupToken)).browser;
  });
  afterAll(async () => {
    await moongate?.close();
  });

  it('a credential revoked in the console is refused on the next request', async () => {
    const { browser, credentialId, token } = await personWithCredential(moongate);
    expect(await chat(moongate, token)).toBe('ok');
    expect((await browser.request('DELETE', `/api/credentials/${credentialId}`)).status).toBe(200);
    expect(await chat(moongate, token)).toBe('401 invalid_token');
  });

  it('an admin disabling a credential or a person applies on the next request, and so does enabling them', async () => {
    const { id, credentialId, token } = await personWithCredential(moongate);
    expect(await chat(moongate, token)).toBe('ok');
    expect((await admin.request('PATCH', `/api/admin/credentials/${credentialId}`, { body: { status: 'disabled' } })).status).toBe(200);
    expect(await chat(moongate, token)).toBe('403 disabled');
    expect((await admin.request('PATCH', `/api/admin/credentials/${credentialId}`, { body: { status: 'active' } })).status).toBe(200);
    expect(await chat(moongate, token)).toBe('ok');
    expect((await admin.request('PATCH', `/api/admin/people/${id}`, { body: { status: 'disabled' } })).status).toBe(200);
    expect(await chat(moongate, token)).toBe('403 disabled');
    expect((await admin.request('PATCH', `/api/admin/people/${id}`, { body: { status: 'active' } })).status).toBe(200);
    expect(await chat(moongate, token)).toBe('ok');
  });

  it('new limits from the admin API apply on the next request', async () => {
    const { credentialId, token } = await personWithCredential(moongate);
    expect(await chat(moongate, token)).toBe('ok');
    expect((await admin.request('PATCH', `/api/admin/credentials/${credentialId}`, { body: { rps: 1 } })).status).toBe(200);
    // The frozen clock keeps the limiter's window too: one more request in this second is over 1 rps.
    const codes = [await chat(moongate, token), await chat(moongate, token)];
    expect(codes).toContain('429 too_many_requests');
  });

  it('a credential revoked by the CLI (another process, no Redis) is served from the cache for at most 1 s', async () => {
    const { credentialId, token } = await personWithCredential(moongate);
    expect(await chat(moongate, token)).toBe('ok');
    const run = await runMoongate(['credential', 'revoke', credentialId], { DATA_DIR: moongate.dataDir });
    expect(run.code, run.stderr).toBe(0);
    // The row says revoked, but this server cannot have heard it: the cached entry still serves.
    const stored = await new CredentialStore(moongate.server.store.db).getCredential(credentialId);
    expect(stored.status).toBe('revoked');
    clock += DEFAULT_CREDENTIAL_CACHE_TTL_MS - 1;
    expect(await chat(moongate, token)).toBe('ok');
    clock += 1;
    expect(await chat(moongate, token)).toBe('401 invalid_token');
  });
});

describeWithPostgres('two replicas on PostgreSQL with REDIS_URL', (schema) => {
  const prefix = useRedisPrefix();
  const clock = 1_700_000_000_000;
  let a: TestServer;
  let b: TestServer;

  beforeAll(async () => {
    if (!redisAvailable) return;
    const env = { ...ENV, DATABASE_URL: schema.url, REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix };
    a = await startTestServer({ env, now: () => clock });
    b = await startTestServer({ env, now: () => clock });
  }, 60_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it.skipIf(!redisAvailable)('a credential revoked in one replica’s console is refused by the other at once', async () => {
    const { browser, credentialId, token } = await personWithCredential(a);
    expect(await chat(b, token)).toBe('ok');
    expect(await chat(a, token)).toBe('ok');
    const reachesB = heard(b, credentialId);
    expect((await browser.request('DELETE', `/api/credentials/${credentialId}`)).status).toBe(200);
    await reachesB;
    expect(await chat(b, token)).toBe('401 invalid_token');
    expect(await chat(a, token)).toBe('401 invalid_token');
  });

  it.skipIf(!redisAvailable)('a credential revoked by the CLI with REDIS_URL is refused by every replica at once', async () => {
    const { credentialId, token } = await personWithCredential(a);
    expect(await chat(a, token)).toBe('ok');
    expect(await chat(b, token)).toBe('ok');
    const reachesBoth = Promise.all([heard(a, credentialId), heard(b, credentialId)]);
    const run = await runMoongate(['credential', 'revoke', credentialId], {
      DATA_DIR: a.dataDir,
      DATABASE_URL: schema.url,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toContain('warning');
    await reachesBoth;
    expect(await chat(a, token)).toBe('401 invalid_token');
    expect(await chat(b, token)).toBe('401 invalid_token');
  });
});
