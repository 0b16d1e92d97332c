/**
 * The lean floor, run as its own process: the leanest correct Node proxy for a Chat
 * Completions call, and the floor every ratio of `npm run bench` is computed against (issue 20).
 * node:http in, the whole (small) body read, one undici Pool request out to the same upstream
 * with the body as a buffer and its own key, then the upstream's status and content-type
 * written back and its body piped through: one JSON body, or an SSE stream as it arrives.
 * Nothing else: no header copying, no parsing. A gateway cannot do less and still proxy.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { Pool } from 'undici';
import type { ReadyMessage } from './child-messages.js';

const upstream = process.env.BENCH_UPSTREAM_ORIGIN;
if (upstream === undefined) throw new Error('BENCH_UPSTREAM_ORIGIN is required');
// No connection cap, like moongate's own undici Agent and the bare proxy.
const pool = new Pool(upstream, { keepAliveTimeout: 30_000 });
const UPSTREAM_HEADERS = { 'content-type': 'application/json', authorization: 'Bearer bench' };

const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  const parts: Buffer[] = [];
  req.on('data', (part: Buffer) => parts.push(part));
  req.on('end', () => {
    pool
      .request({ method: 'POST', path: '/v1/chat/completions', headers: UPSTREAM_HEADERS, body: Buffer.concat(parts) })
      .then(async (answer) => {
        res.writeHead(answer.statusCode, { 'content-type': String(answer.headers['content-type'] ?? 'application/json') });
        await pipeline(answer.body, res);
      })
      .catch(() => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
  });
});
server.listen(0, '127.0.0.1', () => {
  const ready: ReadyMessage = { type: 'ready', port: (server.address() as AddressInfo).port };
  process.send?.(ready);
});
process.on('disconnect', () => process.exit(0));
