/**
 * Writes a stream's chunks to the raw response as Server-Sent Events, honouring
 * backpressure. The framing comes from src/sse/, the only place that writes `data: `.
 *
 * The events of one turn of the event loop go out as one write. An upstream's network
 * chunk usually holds several events; the gateway sends each as it reads it, and a write
 * per event cost an HTTP chunk header, a buffer and an iovec each. So `send` appends to a
 * pending text and the first send of a turn schedules the write on `process.nextTick`,
 * which runs once the promise jobs of the turn (the gateway's loop over the chunk) are
 * done. Nothing waits longer than that turn, and no more than the response's high-water
 * mark waits at all. Backpressure is unchanged in effect: once a write is refused, every
 * send waits for `drain` (or the client leaving).
 *
 * While the response is open and nothing has been written for `keepAliveMs`, a
 * `: keep-alive` comment goes out (every SSE reader ignores comments), so proxies and load
 * balancers with idle timeouts do not cut a model that is thinking quietly.
 */
import type { ServerResponse } from 'node:http';
import { SSE_DONE, encodeSseComment, encodeSseData } from '../sse/index.js';
import type { ChunkSink } from '../gateway/pipeline.js';

const KEEP_ALIVE = encodeSseComment('keep-alive');

export class SseSink implements ChunkSink {
  private timer: NodeJS.Timeout | undefined;
  /** Events sent this turn and not yet written. */
  private pending = '';
  /** A write of `pending` is scheduled for the end of this turn. */
  private scheduled = false;
  /** Set while the socket refuses more: resolves at `drain` or `close`. */
  private blocked: Promise<void> | undefined;

  constructor(
    private readonly res: ServerResponse,
    private readonly keepAliveMs: number = 0,
  ) {
    this.arm();
    res.once('close', () => this.disarm());
  }

  get closed(): boolean {
    return this.res.destroyed || this.res.writableEnded;
  }

  /** Writes a keep-alive comment now (the stream was committed after a silence already). */
  ping(): void {
    if (this.closed) return;
    this.pending += KEEP_ALIVE;
    this.flush();
  }

  /** Not an async function: a send the socket can take returns no promise at all. */
  send(json: string): Promise<void> | undefined {
    if (this.closed) return undefined;
    this.pending += encodeSseData(json);
    // A turn that sends a lot (a provider that yields without waiting) writes as it goes,
    // so backpressure still stops it after a socket buffer's worth, not after the turn.
    if (this.pending.length >= this.res.writableHighWaterMark) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(flushSink, this);
    }
    return this.blocked;
  }

  /** Writes what is pending and the terminator, in one write, and ends the response. */
  async done(): Promise<void> {
    this.disarm();
    if (this.blocked !== undefined) await this.blocked;
    if (this.closed) return;
    const text = this.pending + SSE_DONE;
    this.pending = '';
    this.res.end(text);
  }

  /** Writes what the turn's sends left pending. */
  flush(): void {
    this.scheduled = false;
    if (this.pending === '' || this.closed) return;
    const text = this.pending;
    this.pending = '';
    this.arm();
    if (!this.res.write(text) && this.blocked === undefined) this.blocked = this.drained();
  }

  /**
   * (Re)starts the silence timer; each write pushes the next keep-alive back. One timer per
   * stream, refreshed, rather than a new one for every chunk.
   */
  private arm(): void {
    if (this.keepAliveMs <= 0) return;
    if (this.timer !== undefined) {
      this.timer.refresh();
      return;
    }
    // A comment is tiny: written even under backpressure rather than waiting on it.
    this.timer = setTimeout(() => this.ping(), this.keepAliveMs);
    // A pending keep-alive must never hold the process open at shutdown.
    this.timer.unref();
  }

  private disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Waits for the client to read, or to leave; removes both listeners either way. */
  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.res.off('drain', done);
        this.res.off('close', done);
        this.blocked = undefined;
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }
}

function flushSink(sink: SseSink): void {
  sink.flush();
}
