/**
 * Moonshot's utility endpoints, in Moonshot's shapes (issue 18): POST
 * /v1/tokenizers/estimate-token-count counts with the gateway's own counter (the number a
 * chat request would hold for), GET /v1/users/me/balance answers the caller's own quota and
 * balance. Both take the Bearer credential and answer bad input in the error envelope.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addBalance } from '../../src/billing/wallet-store.js';
import { countPromptTokens, countTextTokens } from '../../src/tokens/count-tokens.js';
import { fundedCredential } from '../helpers/funded-credential.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

let moongate: TestServer;
beforeAll(async () => {
  moongate = await startTestServer();
});
afterAll(async () => {
  await moongate.close();
});

const TRACE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function call(method: 'GET' | 'POST', path: string, token: string | undefined, body?: string): Promise<Response> {
  return fetch(`${moongate.url}${path}`, {
    method,
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body }),
  });
}

async function expectError(res: Response, status: number, code: string): Promise<void> {
  expect(res.status).toBe(status);
  const body = (await res.json()) as { success: boolean; error: { code: string; message: string }; trace_id: string };
  expect(body.success).toBe(false);
  expect(body.error.code).toBe(code);
  expect(body.trace_id).toMatch(TRACE_ID);
  expect(res.headers.get('x-trace-id')).toBe(body.trace_id);
}

describe('POST /v1/tokenizers/estimate-token-count', () => {
  const messages = [
    { role: 'system', content: 'You are Kimi.' },
    { role: 'user', content: 'Hello, what is 1 + 1?' },
  ];

  it("answers Moonshot's shape with the gateway's own count, on /v1 and /kimi alike", async () => {
    const expected = countTextTokens('You are Kimi.') + countTextTokens('Hello, what is 1 + 1?') + 4 + 4 + 4;
    expect(countPromptTokens(messages.map((m) => ({ role: m.role as 'system' | 'user', content: m.content })))).toBe(expected);
    for (const path of ['/v1/tokenizers/estimate-token-count', '/kimi/tokenizers/estimate-token-count']) {
      const res = await call('POST', path, moongate.token, JSON.stringify({ model: 'kimi-k2.5', messages }));
      expect(res.status).toBe(200);
      expect(res.headers.get('x-trace-id')).toMatch(TRACE_ID);
      expect(await res.json()).toEqual({ data: { total_tokens: expected } });
    }
    // "Hello" alone is SPEC.md's 9.
    const hello = await call('POST', '/v1/tokenizers/estimate-token-count', moongate.token, JSON.stringify({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }] }));
    expect(await hello.json()).toEqual({ data: { total_tokens: 9 } });
  });

  it('counts what a chat request with the same body holds for (tools included)', async () => {
    const body = {
      model: 'kimi-k2.5',
      messages,
      tools: [{ type: 'function', function: { name: 'add', description: 'Adds.', parameters: { type: 'object', properties: { a: { type: 'number' } } } } }],
    };
    const estimate = (await (await call('POST', '/v1/tokenizers/estimate-token-count', moongate.token, JSON.stringify(body))).json()) as { data: { total_tokens: number } };
    const chat = (await (await moongate.chat({ ...body, max_tokens: 5 })).json()) as { usage: { prompt_tokens: number } };
    expect(estimate.data.total_tokens).toBe(chat.usage.prompt_tokens);
  });

  it('works from a Moonshot-native client (the OpenAI SDK pointed at /v1, posting to the path)', async () => {
    const client = new OpenAI({ apiKey: moongate.token, baseURL: `${moongate.url}/v1`, maxRetries: 0 });
    const answer = await client.post<{ data: { total_tokens: number } }>('/tokenizers/estimate-token-count', {
      body: { model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }] },
    });
    expect(answer).toEqual({ data: { total_tokens: 9 } });
  });

  it('checks the credential before the body (a broken body without one is no_token), and answers bad bodies in the envelope', async () => {
    const path = '/v1/tokenizers/estimate-token-count';
    await expectError(await call('POST', path, undefined, '{"model":"kimi-k2.5"'), 400, 'no_token');
    await expectError(await call('POST', path, 'not-a-token', '{"model":"kimi-k2.5"'), 401, 'invalid_token');
    await expectError(await call('POST', path, moongate.token, '{"model":"kimi-k2.5"'), 400, 'bad_request');
    await expectError(await call('POST', path, moongate.token, JSON.stringify({ model: 'kimi-k2.5', messages: [] })), 400, 'bad_request');
    await expectError(await call('POST', path, moongate.token, JSON.stringify({ model: 'gpt-4', messages })), 404, 'model_not_found');
    await expectError(await call('GET', path, moongate.token), 400, 'api_not_implemented');
  });

  it('answers a body over the limit with 413, and counts a 2 MiB run of one letter (sliced, not quadratic)', async () => {
    const path = '/v1/tokenizers/estimate-token-count';
    const huge = 'x'.repeat(17 * 1024 * 1024);
    await expectError(await call('POST', path, moongate.token, JSON.stringify({ model: 'kimi-k2.5', messages: [{ role: 'user', content: huge }] })), 413, 'too_large');
    // One 2 MiB run of letters: BPE would be quadratic on it; sliced, it is counted.
    const long = 'a'.repeat(2 * 1024 * 1024);
    const res = await call('POST', path, moongate.token, JSON.stringify({ model: 'kimi-k2.5', messages: [{ role: 'user', content: long }] }));
    expect(res.status).toBe(200);
    expect(((await res.json()) as { data: { total_tokens: number } }).data.total_tokens).toBe(countTextTokens(long) + 8);
  });
});

describe('GET /v1/users/me/balance', () => {
  type Balance = { code: number; data: { available_balance: number; voucher_balance: number; cash_balance: number }; scode: string; status: boolean };

  it("answers a service credential's quota as voucher and its person's balance as cash, in Moonshot's shape", async () => {
    const caller = await fundedCredential(moongate.server.store, 'quota@example.com', { balance: 2_500_000, scope: 'service' });
    // The application may not fall back (fundedCredential): the person's balance is out of its reach.
    await addBalance(moongate.server.store.db, caller.personId, 7_000_000);
    for (const path of ['/v1/users/me/balance', '/kimi/users/me/balance']) {
      const res = await call('GET', path, caller.token);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ code: 0, data: { available_balance: 2.5, voucher_balance: 2.5, cash_balance: 0 }, scode: '0x0', status: true });
    }
    // Allowed to fall back: the balance counts too.
    const app = await moongate.server.store.db.selectFrom('credentials').select('application_id').where('id', '=', caller.credentialId).executeTakeFirstOrThrow();
    await moongate.server.store.db.updateTable('wallets').set({ fallback: 'balance' }).where('id', '=', app.application_id ?? '').execute();
    const both = (await (await call('GET', '/v1/users/me/balance', caller.token)).json()) as Balance;
    expect(both.data).toEqual({ available_balance: 9.5, voucher_balance: 2.5, cash_balance: 7 });
  });

  it("answers a global credential's balance, less what running requests hold", async () => {
    const caller = await fundedCredential(moongate.server.store, 'global@example.com', { balance: 1_234_567 });
    await moongate.server.store.db.updateTable('wallets').set({ held: 234_567 }).where('id', '=', caller.personId).execute();
    const body = (await (await call('GET', '/v1/users/me/balance', caller.token)).json()) as Balance;
    expect(body).toEqual({ code: 0, data: { available_balance: 1, voucher_balance: 0, cash_balance: 1 }, scode: '0x0', status: true });
    await moongate.server.store.db.updateTable('wallets').set({ held: 0 }).where('id', '=', caller.personId).execute();
  });

  it('refuses a missing or wrong credential in the envelope, and a wrong method', async () => {
    await expectError(await call('GET', '/v1/users/me/balance', undefined), 400, 'no_token');
    await expectError(await call('GET', '/v1/users/me/balance', 'sk-wrong'), 401, 'invalid_token');
    await expectError(await call('POST', '/v1/users/me/balance', moongate.token, '{}'), 400, 'api_not_implemented');
  });
});
