/**
 * A client that disconnects from a stream aborts the upstream request: one AbortSignal per
 * request, tested with a real socket. (A non-stream request runs to its end instead:
 * early-end-billing.test.ts.)
 */
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ScriptedProvider } from '../helpers/scripted-provider.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

let moongate: TestServer | undefined;
afterEach(async () => {
  await moongate?.close();
  moongate = undefined;
});

function open(url: string, token: string, stream: boolean, onData: (text: string, destroy: () => void) => void): void {
  const body = JSON.stringify({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }], stream });
  const req = request(`${url}/kimi/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
  });
  req.on('response', (res) => {
    res.setEncoding('utf8');
    res.on('data', (text: string) => onData(text, () => req.destroy()));
  });
  req.on('error', () => {});
  req.end(body);
}

describe('client disconnect', () => {
  it('aborts the upstream call mid-stream', async () => {
    const provider = new ScriptedProvider([
      { type: 'delta', index: 0, reasoning: 'thinking...' },
      { type: 'wait', ms: 60_000 },
      { type: 'delta', index: 0, content: 'never sent' },
    ]);
    moongate = await startTestServer({ provider });
    let received = '';
    open(moongate.url, moongate.token, true, (text, destroy) => {
      received += text;
      if (received.includes('thinking...')) destroy();
    });
    await provider.until(() => provider.aborted.length === 1);
    expect(received).toContain('"role":"assistant"');
    expect(received).not.toContain('never sent');
  });

  it('aborts the upstream call while a stream waits for its first event', async () => {
    const provider = new ScriptedProvider([{ type: 'wait', ms: 60_000 }]);
    moongate = await startTestServer({ provider });
    const body = JSON.stringify({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }], stream: true });
    const req = request(`${moongate.url}/kimi/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${moongate.token}` },
    });
    req.on('error', () => {});
    req.end(body);
    await provider.until(() => provider.calls.length === 1);
    req.destroy();
    await provider.until(() => provider.aborted.length === 1);
  });

  it('does not abort a request that completed', async () => {
    const provider = new ScriptedProvider([
      { type: 'delta', index: 0, content: 'done' },
      { type: 'finish', index: 0, reason: 'stop' },
    ]);
    moongate = await startTestServer({ provider });
    const res = await moongate.chat({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }], stream: true });
    await res.text();
    // Closing the server runs every close handler of the finished request: an abort would have come by then.
    await moongate.close();
    moongate = undefined;
    expect(provider.calls).toHaveLength(1);
    expect(provider.aborted).toHaveLength(0);
  });
});
