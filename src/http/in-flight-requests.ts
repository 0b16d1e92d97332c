/**
 * The chat requests this process is serving, so a shutdown can wait for them to finish
 * (docs/operations.md, "Shutdown") and cut the ones that outlive the drain limit, and so
 * /metrics can count open streams.
 */
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

interface Entry {
  controller: Abortable;
  stream: boolean;
}

export class InFlightRequests {
  private readonly entries = new Set<Entry>();
  private readonly idleWaiters: Array<() => void> = [];
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
    const entry: Entry = { controller, stream: false };
    this.entries.add(entry);
    return {
      markStream: () => {
        entry.stream = true;
      },
      end: () => {
        if (!this.entries.delete(entry)) return;
        if (this.entries.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
      },
    };
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
}
