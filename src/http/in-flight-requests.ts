/**
 * The chat requests this process is serving, so a shutdown can wait for them to finish
 * (docs/operations.md, "Shutdown") and cut the ones that outlive the drain limit, and so
 * /metrics can count open streams. It also follows the server's connections (watch), so
 * that past the drain limit a connection whose client stopped reading can be cut: aborting
 * a request stops its upstream, but a response waiting for 'drain' from a client that never
 * reads (and never leaves) only ends when its connection does.
 */
import type { Server, Socket } from 'node:net';

export interface InFlightEntry {
  /** The request turned out to be a stream (its response is SSE). */
  markStream(): void;
  /** The request is over (called once; later calls do nothing). */
  end(): void;
}

/** What a shutdown needs of a request's controller (an AbortController or a CallAbort). */
interface Abortable {
  abort(reason?: unknown): void;
}

/** One request in flight; a class, so that tracking a request makes one object, not two closures and their scope. */
class Entry implements InFlightEntry {
  stream = false;

  constructor(
    readonly controller: Abortable,
    private readonly owner: InFlightRequests,
  ) {}

  markStream(): void {
    this.stream = true;
  }

  end(): void {
    this.owner.remove(this);
  }
}

export class InFlightRequests {
  private readonly entries = new Set<Entry>();
  private readonly idleWaiters: Array<() => void> = [];
  /** The watched server's open connections (one entry per connection, not per request). */
  private readonly sockets = new Set<Socket>();
  /** Set when shutdown begins: new requests are turned away from then on. */
  draining = false;

  get count(): number {
    return this.entries.size;
  }

  get streams(): number {
    let n = 0;
    for (const entry of this.entries) if (entry.stream) n++;
    return n;
  }

  add(controller: Abortable): InFlightEntry {
    const entry = new Entry(controller, this);
    this.entries.add(entry);
    return entry;
  }

  /** An entry's end (called once; later calls do nothing). */
  remove(entry: InFlightEntry): void {
    if (!this.entries.delete(entry as Entry)) return;
    if (this.entries.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** Resolves once no request is in flight. */
  idle(): Promise<void> {
    if (this.entries.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Aborts every request still running; each settles through the gateway's abort path. */
  abortAll(reason: Error): void {
    for (const entry of this.entries) entry.controller.abort(reason);
  }

  /** Follows a server's connections, for cutStalled. */
  watch(server: Server): void {
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  /**
   * Destroys the watched connections whose writes stall: more is queued than the socket
   * takes and it waits for 'drain' (a client that stopped reading). A response waiting on
   * it (the SSE sink) sees the close and ends, and its request settles as that of any client
   * that left. Returns how many were cut.
   */
  cutStalled(): number {
    let cut = 0;
    for (const socket of this.sockets) {
      if (socket.destroyed || !socket.writableNeedDrain) continue;
      socket.destroy();
      cut++;
    }
    return cut;
  }
}
