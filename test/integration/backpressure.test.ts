/**
 * A client that reads slowly: the stream waits for it (backpressure) without piling up
 * listeners, and every byte arrives.
 */
import { request } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import type { ScriptStep } from '../helpers/scripted-provider.js';
import { ScriptedProvider } from '../helpers/scripted-provider.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

let moongate: TestServer | undefined;
afterAll(async () => {
  await moongate?.close();
});

describe('backpressure', () => {
  it('waits for a slow reader without leaking listeners', async () => {
    const piece = 'x'.repeat(64 * 1024);
    const script: ScriptStep[] = Array.from({ length: 60 }, () => ({ type: 'delta', index: 0, content: piece }) as const);
    script.push({ type: 'finish', index: 0, reason: 'stop' });
    moongate = await startTestServer({ provider: new ScriptedProvider(script) });

    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning);
    };
    process.on('warning', onWarning);
    try {
      const received = await new Promise<string>((resolve, reject) => {
        const req = request(`${moongate?.url}/kimi/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${moongate?.token}` },
        });
        req.on('response', (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
            // Read slowly: the server's socket buffer fills and it must wait for 'drain'.
            res.pause();
            setTimeout(() => res.resume(), 1);
          });
          res.on('end', () => resolve(text));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end(JSON.stringify({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }], stream: true }));
      });
      expect(received.split(piece).length - 1).toBe(60);
      expect(received.endsWith('data: [DONE]\n\n')).toBe(true);
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
