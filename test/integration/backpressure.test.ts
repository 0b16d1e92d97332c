/**
 * A client that reads slowly: the stream waits for it (backpressure) without piling up
 * listeners, and every byte arrives.
 */
import { request } from 'node:http';
import type { ChatEvent } from '../../src/contract/index.js';
import type { ProviderCall } from '../../src/providers/provider.js';
import { afterAll, describe, expect, it } from 'vitest';
import type { ScriptStep } from '../helpers/scripted-provider.js';
import { ScriptedProvider } from '../helpers/scripted-provider.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

let moongate: TestServer | undefined;
afterAll(async () => {
  await moongate?.close();
});

/** Counts the events the gateway has pulled so far. */
class CountingProvider extends ScriptedProvider {
  pulled = 0;
  override async *chat(call: ProviderCall): AsyncIterable<ChatEvent> {
    for await (const event of super.chat(call)) {
      this.pulled++;
      yield event;
    }
  }
}

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

  it('stops pulling from an upstream that yields without waiting while the client reads nothing', async () => {
    // 24 MiB offered at once: more than loopback's socket buffers take, so only backpressure
    // keeps the gateway from pulling (and buffering) all of it while the client is paused.
    const piece = 'y'.repeat(64 * 1024);
    const total = 384;
    const script: ScriptStep[] = Array.from({ length: total }, () => ({ type: 'delta', index: 0, content: piece }) as const);
    script.push({ type: 'finish', index: 0, reason: 'stop' });
    const provider = new CountingProvider(script);
    const server = await startTestServer({ provider });
    try {
      const { pulledWhilePaused, received, ended } = await new Promise<{ pulledWhilePaused: number; received: number; ended: boolean }>((resolve, reject) => {
        const req = request(`${server.url}/kimi/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${server.token}` },
        });
        req.on('response', (res) => {
          let pulledWhilePaused = -1;
          let received = 0;
          let last = '';
          res.setEncoding('utf8');
          res.once('data', () => {
            res.pause();
            setTimeout(() => {
              pulledWhilePaused = provider.pulled;
              res.resume();
            }, 400);
          });
          res.on('data', (chunk: string) => {
            received += chunk.length;
            last = (last + chunk).slice(-64);
          });
          res.on('end', () => resolve({ pulledWhilePaused, received, ended: last.endsWith('data: [DONE]\n\n') }));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end(JSON.stringify({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }], stream: true }));
      });
      // Every piece arrived (and the chunks' JSON around them), then the terminator.
      expect(received).toBeGreaterThan(total * piece.length);
      expect(ended).toBe(true);
      expect(pulledWhilePaused).toBeGreaterThan(0);
      expect(pulledWhilePaused).toBeLessThan(total / 2);
    } finally {
      await server.close();
    }
  });
});
