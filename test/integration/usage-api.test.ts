/**
 * The console's usage endpoints as people use them: filters by credential, model, status and
 * time; a person sees their own rows (in the pages and in the CSV download), an operator
 * everyone's at /api/admin/usage, which anyone else cannot see exists.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountService } from '../../src/accounts/account-service.js';
import { SessionStore } from '../../src/accounts/session-store.js';
import { CSV_HEADER } from '../../src/billing/usage-export.js';
import { CONSOLE_PASSWORD, ConsoleClient, expectError } from '../helpers/console-client.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

interface Row {
  traceId: string;
  credentialId: string;
  model: string;
  status: string;
}

describe('the usage endpoints', () => {
  let server: TestServer;
  let ada: ConsoleClient;
  let operator: ConsoleClient;
  const adaTraces: string[] = [];
  let firstCredential = '';
  let secondCredential = '';

  async function chat(token: string, model: string): Promise<string> {
    const response = await fetch(`${server.url}/kimi/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 8 }),
    });
    expect(response.status).toBe(200);
    await response.text();
    return response.headers.get('x-trace-id')!;
  }

  beforeAll(async () => {
    server = await startTestServer({ env: { REGISTRATIONS_PER_HOUR: '1000' } });
    const store = server.server.store;
    await new AccountService({ db: store.db, dialect: store.dialect, sessions: new SessionStore(store.db) }).createAdmin({
      email: 'usage-operator@example.com',
      password: CONSOLE_PASSWORD,
    });
    operator = new ConsoleClient(server.url);
    expect((await operator.login('usage-operator@example.com', CONSOLE_PASSWORD)).status).toBe(200);
    ada = (await ConsoleClient.newPerson(server.url, 'usage-ada@example.com')).browser;
    const acquired = await ada.request<{ credential: { id: string }; token: string }>('POST', '/api/services/kimi-chat-completions/acquire', { body: {} });
    firstCredential = acquired.body.credential.id;
    const second = await ada.request<{ credential: { id: string }; token: string }>('POST', '/api/credentials', { body: { name: 'second' } });
    expect(second.status, second.text).toBe(201);
    secondCredential = second.body.credential.id;
    for (let i = 0; i < 3; i++) adaTraces.push(await chat(acquired.body.token, 'kimi-k2.5'));
    adaTraces.push(await chat(second.body.token, 'kimi-k2-thinking'));
    const bob = (await ConsoleClient.newPerson(server.url, 'usage-bob@example.com')).browser;
    const bobs = await bob.request<{ token: string }>('POST', '/api/services/kimi-chat-completions/acquire', { body: {} });
    await chat(bobs.body.token, 'kimi-k2.5');
  });
  afterAll(() => server.close());

  it('filters by credential and model, and pages with a cursor', async () => {
    const byCredential = await ada.request<{ rows: Row[] }>('GET', `/api/usage?credential=${secondCredential}`);
    expect(byCredential.body.rows.map((r) => r.traceId)).toEqual([adaTraces[3]]);
    const byModel = await ada.request<{ rows: Row[] }>('GET', `/api/usage?model=kimi-k2.5&credential=${firstCredential}`);
    expect(byModel.body.rows.map((r) => r.traceId).sort()).toEqual(adaTraces.slice(0, 3).sort());
    const first = await ada.request<{ rows: Row[]; next: string }>('GET', '/api/usage?limit=3');
    const second = await ada.request<{ rows: Row[]; next: string | null }>('GET', `/api/usage?limit=3&before=${first.body.next}`);
    expect([...first.body.rows, ...second.body.rows].map((r) => r.traceId).sort()).toEqual([...adaTraces].sort());
    expect(second.body.next).toBeNull();
    expectError(await ada.request('GET', '/api/usage?status=exploded'), 400, 'bad_request');
  });

  it("downloads a person's own filtered rows as CSV, never anyone else's", async () => {
    const response = await fetch(`${server.url}/api/usage/export.csv?credential=${firstCredential}`, {
      headers: { cookie: `moongate_session=${ada.cookie}` },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(response.headers.get('content-disposition')).toContain('attachment');
    const csv = await response.text();
    expect(csv.startsWith(CSV_HEADER)).toBe(true);
    const traces = csv.split('\r\n').slice(1, -1).map((line) => line.split(',')[0]);
    expect(traces.sort()).toEqual(adaTraces.slice(0, 3).sort());
    // Someone else's credential filters to nothing, not to their rows.
    const operatorCsv = await fetch(`${server.url}/api/usage/export.csv?credential=${firstCredential}`, {
      headers: { cookie: `moongate_session=${operator.cookie}` },
    });
    expect(await operatorCsv.text()).toBe(CSV_HEADER);
    const anonymous = await fetch(`${server.url}/api/usage/export.csv`);
    expect(anonymous.status).toBe(401);
  });

  it("gives an operator everyone's rows, and is no API at all to anyone else", async () => {
    const everyone = await operator.request<{ rows: Row[] }>('GET', '/api/admin/usage?limit=100');
    expect(everyone.status).toBe(200);
    expect(everyone.body.rows).toHaveLength(5);
    const thinking = await operator.request<{ rows: Row[] }>('GET', '/api/admin/usage?model=kimi-k2-thinking');
    expect(thinking.body.rows.map((r) => r.traceId)).toEqual([adaTraces[3]]);
    const csv = await fetch(`${server.url}/api/admin/usage/export.csv`, { headers: { cookie: `moongate_session=${operator.cookie}` } });
    expect((await csv.text()).split('\r\n').slice(1, -1)).toHaveLength(5);
    expectError(await ada.request('GET', '/api/admin/usage'), 404, 'no_api');
  });
});
