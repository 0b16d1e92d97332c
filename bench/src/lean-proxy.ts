/**
 * The lean floor, run as its own process: the leanest correct Node proxy for a Chat
 * Completions call, and the floor every ratio of `npm run bench` is computed against (issue 20).
 * node:http in, the whole (small) body read, one undici Pool request out to the same upstream
 * with the body as a buffer and its own key, then the upstream's status and content-type
 * written back with its body: a JSON body read whole and written in one piece with its
 * length, an SSE stream piped through as it arrives. Nothing else: no header copying, no
 * parsing. A gateway cannot do less and still proxy.
 *
 * Until 2026-12-05 11:30 the JSON body was piped too (stream.pipeline, as chunked transfer
 * encoding), which cost 1.75 times the CPU of writing it whole (70 against 40 µs a request),
 * and streams went through stream.pipeline, about 15% dearer than pipe(): the floor was
 * soft, most of all for non-stream figures (docs/benchmark.md, "The floors").
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
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
      .then((answer) => {
        const type = String(answer.headers['content-type'] ?? 'application/json');
        if (type.startsWith('text/event-stream')) {
          res.writeHead(answer.statusCode, { 'content-type': type });
          // pipe() keeps to the client's pace; a client that leaves lets the upstream go.
          answer.body.on('error', () => res.destroy());
          res.on('close', () => answer.body.destroy());
          answer.body.pipe(res);
          return;
        }
        // One JSON body: read whole, written in one piece with its length.
        const chunks: Buffer[] = [];
        answer.body.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.body.on('error', () => res.destroy());
        answer.body.on('end', () => {
          const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
          res.writeHead(answer.statusCode, { 'content-type': type, 'content-length': body.length });
          res.end(body);
        });
      })
      .catch(() => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
  });
});
server.listen(0, '127.0.0.1', () => {
  const ready: ReadyMessage = { type: 'ready', port: (server.address() as AddressInfo).port };
  process.send?.(ready);
});
process.on('disconnect', () => process.exit(0));
