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

/**
 * One request in flight; a class, so that tracking a request makes one object, not two
 * closures and their scope. The entries are a list linked through themselves, not a Set: a
 * long-lived Set that a request adds to and deletes from has V8 allocate it a new table in
 * the old generation whenever a delete shrinks it, as every delete that empties it does
 * (docs/benchmark.md, "Old-space garbage").
 */
class Entry implements InFlightEntry {
  stream = false;
  previous: Entry | null = null;
  next: Entry | null = null;
  listed = false;

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
  #first: Entry | null = null;
  #count = 0;
  private readonly idleWaiters: Array<() => void> = [];
  /** The watched server's open connections (one entry per connection, not per request). */
  private readonly sockets = new Set<Socket>();
  /** Set when shutdown begins: new requests are turned away from then on. */
  draining = false;

  get count(): number {
    return this.#count;
  }

  get streams(): number {
    let n = 0;
    for (let entry = this.#first; entry !== null; entry = entry.next) if (entry.stream) n++;
    return n;
  }

  add(controller: Abortable): InFlightEntry {
    const entry = new Entry(controller, this);
    const first = this.#first;
    entry.next = first;
    if (first !== null) first.previous = entry;
    this.#first = entry;
    entry.listed = true;
    this.#count++;
    return entry;
  }

  /** An entry's end (called once; later calls do nothing). */
  remove(entry: InFlightEntry): void {
    const listed = entry as Entry;
    if (!listed.listed) return;
    listed.listed = false;
    const { previous, next } = listed;
    if (previous === null) this.#first = next;
    else previous.next = next;
    if (next !== null) next.previous = previous;
    listed.previous = null;
    listed.next = null;
    this.#count--;
    if (this.#count === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** Resolves once no request is in flight. */
  idle(): Promise<void> {
    if (this.#count === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Aborts every request still running; each settles through the gateway's abort path. */
  abortAll(reason: Error): void {
    // Taken first: an abort may end its request (and unlink it) at once; one that has ended by its turn is left alone.
    const running: Entry[] = [];
    for (let entry = this.#first; entry !== null; entry = entry.next) running.push(entry);
    for (const entry of running) if (entry.listed) entry.controller.abort(reason);
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
