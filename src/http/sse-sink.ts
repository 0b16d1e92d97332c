/**
 * Writes a stream's chunks to the raw response as Server-Sent Events, honouring
 * backpressure. The framing comes from src/sse/, the only place that writes `data: `.
 *
 * While the response is open and nothing has been written for `keepAliveMs`, a
 * `: keep-alive` comment goes out (every SSE reader ignores comments), so proxies and load
 * balancers with idle timeouts do not cut a model that is thinking quietly.
 */
import type { ServerResponse } from 'node:http';
import { SSE_DONE, encodeSseComment, encodeSseData } from '../sse/index.js';
import type { ChunkSink } from '../gateway/chat-gateway.js';

const KEEP_ALIVE = encodeSseComment('keep-alive');
const WRITTEN: Promise<void> = Promise.resolve();

export class SseSink implements ChunkSink {
  private timer: NodeJS.Timeout | undefined;

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
    this.res.write(KEEP_ALIVE);
    this.arm();
  }

  send(json: string): Promise<void> {
    return this.write(encodeSseData(json));
  }

  async done(): Promise<void> {
    this.disarm();
    if (this.closed) return;
    await this.write(SSE_DONE);
    this.res.end();
  }

  /** Not an async function: a write the socket took at once needs no promise of its own. */
  private write(text: string): Promise<void> {
    if (this.closed) return WRITTEN;
    this.arm();
    return this.res.write(text) ? WRITTEN : this.drained();
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
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }
}
