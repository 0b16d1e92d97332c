/**
 * A response queued behind another on its connection (HTTP/1.1 pipelining) closes when the
 * connection does. Node gives such a response its socket only once the responses before it
 * are written; should the connection close first, Node drops the queue, and the queued
 * response never emits 'close', never becomes `destroyed`. Everything that waits for a
 * response to close would then wait for ever: the caller's concurrency permit (a caller could
 * lock its own credential out by pipelining and hanging up), the access line's entry (an
 * unauthenticated client could grow the process's memory), a stream's abort and its sink.
 * So the server's listener registers each queued response with its connection here, and when
 * the connection closes, a response still queued is marked destroyed and emits 'close', as
 * one with a socket does.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** Each connection's responses still waiting for its socket. */
const queues = new WeakMap<Socket, Set<ServerResponse>>();

/** Called for every request, before it is routed; a response that has its socket costs one check. */
export function closeWithConnection(req: IncomingMessage, res: ServerResponse): void {
  if (res.socket !== null) return;
  const socket = req.socket;
  let queue = queues.get(socket);
  if (queue === undefined) {
    const waiting = new Set<ServerResponse>();
    queue = waiting;
    queues.set(socket, waiting);
    socket.once('close', () => {
      for (const queued of waiting) {
        if (queued.destroyed) continue;
        queued.destroyed = true;
        queued.emit('close');
      }
      waiting.clear();
    });
  }
  const waiting = queue;
  waiting.add(res);
  // Its turn came: from here Node closes it with its socket.
  res.once('socket', () => waiting.delete(res));
}
