/**
 * Writes a stream's chunks to the raw response as Server-Sent Events, honouring
 * backpressure. The framing comes from src/sse/, the only place that writes `data: `.
 */
import type { ServerResponse } from 'node:http';
import { SSE_DONE, encodeSseData } from '../sse/index.js';
import type { ChunkSink } from '../gateway/chat-gateway.js';

export class SseSink implements ChunkSink {
  constructor(private readonly res: ServerResponse) {}

  get closed(): boolean {
    return this.res.destroyed || this.res.writableEnded;
  }

  async send(json: string): Promise<void> {
    await this.write(encodeSseData(json));
  }

  async done(): Promise<void> {
    if (this.closed) return;
    await this.write(SSE_DONE);
    this.res.end();
  }

  private async write(text: string): Promise<void> {
    if (this.closed) return;
    if (!this.res.write(text)) await this.drained();
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
