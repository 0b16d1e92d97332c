/**
 * The bare proxy, run as its own process: node:http in front of an undici Pool that
 * forwards the bytes both ways and does nothing else. It is the floor every Node gateway
 * pays (parse HTTP, open or reuse an upstream connection, copy bytes), against which
 * moongate's full pipeline is measured. GET /__bench/stats reports its own CPU and memory.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { Pool, type Dispatcher } from 'undici';
import type { ReadyMessage } from './child-messages.js';

const upstream = process.env.BENCH_UPSTREAM_ORIGIN;
if (upstream === undefined) throw new Error('BENCH_UPSTREAM_ORIGIN is required');
// No connection cap, like moongate's own undici Agent: one upstream connection per open request.
const pool = new Pool(upstream, { keepAliveTimeout: 30_000 });

/** RFC 9110 §7.6.1: hop-by-hop fields are not forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host', 'proxy-connection']);

function forwardable(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

async function forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.url === '/__bench/stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ cpu: process.cpuUsage(), memory: process.memoryUsage() }));
    return;
  }
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  const answer = await pool.request({
    method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
    path: req.url ?? '/',
    headers: forwardable(req.headers),
    body: req,
    signal: controller.signal,
  });
  res.writeHead(answer.statusCode, forwardable(answer.headers));
  await pipeline(answer.body, res);
}

const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  forward(req, res).catch(() => {
    if (!res.headersSent) res.writeHead(502).end();
    else res.destroy();
  });
});
server.listen(0, '127.0.0.1', () => {
  const ready: ReadyMessage = { type: 'ready', port: (server.address() as AddressInfo).port };
  process.send?.(ready);
});
process.on('disconnect', () => process.exit(0));
