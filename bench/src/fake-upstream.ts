/**
 * The fake upstream, run as its own process: an OpenAI-compatible server on loopback that
 * answers in the seed's shape as fast as it is told to. Non-stream requests get one JSON
 * body; stream requests get a role chunk, the content chunks (each its own write, as a
 * token-streaming upstream sends them), the finish chunk, the usage chunk and [DONE].
 *
 * Control endpoints (never reached through moongate): POST /__bench/mode sets an
 * UpstreamMode; GET /__bench/stats reports request counts and this process's own CPU and memory.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import type { ReadyMessage, UpstreamMode } from './child-messages.js';
import { STREAM_CONTENT_CHUNKS, SeedStream, completionJson } from './seed-replies.js';

const mode: UpstreamMode = {
  delayMs: Number(process.env.BENCH_UPSTREAM_DELAY_MS ?? 0),
  chunkIntervalMs: 0,
  chunks: STREAM_CONTENT_CHUNKS,
};
const counts = { requests: 0, streams: 0, open: 0 };
let sequence = 0;

async function readBody(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const text = await readBody(req);
  if (req.url === '/__bench/stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ...counts, cpu: process.cpuUsage(), memory: process.memoryUsage() }));
    return;
  }
  if (req.url === '/__bench/mode') {
    Object.assign(mode, JSON.parse(text) as Partial<UpstreamMode>);
    res.writeHead(204).end();
    return;
  }
  counts.requests++;
  const stream = /"stream"\s*:\s*true/.test(text);
  const id = `chatcmpl-${(++sequence).toString(16).padStart(16, '0')}`;
  const created = Math.floor(Date.now() / 1000);
  const current = { ...mode };
  if (current.delayMs > 0) await sleep(current.delayMs);
  if (res.destroyed) return;
  if (!stream) {
    const body = completionJson(id, created);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    return;
  }
  counts.streams++;
  counts.open++;
  res.once('close', () => counts.open--);
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  const seed = new SeedStream(id, created);
  // The first content chunk goes with the role chunk: a gateway answers once it has an event.
  res.write(seed.role() + seed.content(0));
  for (let i = 1; i < current.chunks; i++) {
    if (current.chunkIntervalMs > 0) await sleep(current.chunkIntervalMs);
    else await nextTurn();
    if (res.destroyed) return;
    res.write(seed.content(i));
  }
  await nextTurn();
  if (res.destroyed) return;
  res.end(seed.finish() + seed.usage(current.chunks));
}

const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  answer(req, res).catch(() => res.destroy());
});
server.listen(Number(process.env.BENCH_PORT ?? 0), '127.0.0.1', () => {
  const ready: ReadyMessage = { type: 'ready', port: (server.address() as AddressInfo).port };
  process.send?.(ready);
});
process.on('disconnect', () => process.exit(0));
