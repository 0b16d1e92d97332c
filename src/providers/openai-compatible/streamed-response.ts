/**
 * One upstream call read as it arrives (an SSE reply), on undici's dispatch API: the pieces
 * of the body wait in a queue that the reader takes them from, with no Readable, async
 * iterator or async resource in between, which a stream paid for on every piece (issue 20).
 *
 * The queue keeps to the reader's pace, as a stream's buffer does: once QUEUE_PAUSE_BYTES
 * wait unread, undici stops reading the upstream's socket until the reader has taken them.
 */
import type { Dispatcher } from 'undici';
import type { CallSignal } from '../../contract/index.js';
import type { UpstreamHeaders } from './upstream-errors.js';

/** Unread bytes at which the upstream is paused (a Readable's default high-water mark is 64 KiB). */
export const QUEUE_PAUSE_BYTES = 64 * 1024;

export interface StreamedResponse {
  readonly statusCode: number;
  readonly headers: UpstreamHeaders;
  /** The body ended, failed or was cut: nothing more comes. */
  readonly over: boolean;
  /**
   * The next piece of the body, or null at its end. Rejects with undici's error when the body
   * fails, or with the signal's reason once it is aborted.
   */
  read(): Promise<Buffer | null>;
  /**
   * The rest of the body as UTF-8 text. Beyond `limit` bytes: with `tooLarge`, the read fails
   * with its error; without, the text is the first `limit` bytes. Either way the rest is cut.
   */
  text(limit: number, tooLarge?: () => Error): Promise<string>;
  /** Cuts the rest of the body (the connection closes); nothing if it is over. */
  cancel(): void;
  /**
   * Reads off and drops what is left of a body whose answer is complete (an SSE reply after
   * [DONE]: usually just the chunked terminator, still in flight), so the connection goes back
   * to the pool; cut if it has not ended within `graceMs`.
   */
  drain(graceMs: number): void;
}

/**
 * Sends the request; resolves with the response once its final status and headers are in
 * (its body still to read), rejects if the call fails before that. The signal aborts the
 * call whenever it comes.
 */
export function openStream(dispatcher: Dispatcher, request: Dispatcher.DispatchOptions, signal: CallSignal): Promise<StreamedResponse> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const call = new StreamedCall(signal, resolve, reject);
    try {
      dispatcher.dispatch(request, call);
    } catch (error) {
      // undici's own dispatchers report through onResponseError; another one may throw.
      call.onResponseError(undefined, error as Error);
    }
  });
}

class StreamedCall implements Dispatcher.DispatchHandler, StreamedResponse {
  statusCode = 0;
  headers: UpstreamHeaders = {};
  private controller: Dispatcher.DispatchController | undefined;
  private readonly pieces: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private failure: unknown;
  private failed = false;
  private dropping = false;
  private graceTimer: NodeJS.Timeout | undefined;
  /** The reader waiting for the next piece, if one waits. */
  private waiter: { resolve: (piece: Buffer | null) => void; reject: (error: unknown) => void } | undefined;
  /** Set until the headers are in. */
  private opening: { resolve: (response: StreamedResponse) => void; reject: (error: unknown) => void } | undefined;

  constructor(
    private readonly signal: CallSignal,
    resolve: (response: StreamedResponse) => void,
    reject: (error: unknown) => void,
  ) {
    this.opening = { resolve, reject };
    signal.addEventListener('abort', this.onAbort, { once: true });
  }

  get over(): boolean {
    return this.ended || this.failed;
  }

  // undici's side.

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.signal.aborted) controller.abort(this.signal.reason as Error);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    // 1xx answers come before the final one; only the final one counts.
    if (statusCode < 200) return;
    this.statusCode = statusCode;
    this.headers = headers;
    const opening = this.opening;
    this.opening = undefined;
    opening?.resolve(this);
  }

  onResponseData(controller: Dispatcher.DispatchController, piece: Buffer): void {
    if (this.dropping) return;
    const waiter = this.waiter;
    if (waiter !== undefined) {
      this.waiter = undefined;
      waiter.resolve(piece);
      return;
    }
    this.pieces.push(piece);
    this.queued += piece.byteLength;
    if (this.queued >= QUEUE_PAUSE_BYTES) controller.pause();
  }

  onResponseEnd(): void {
    this.ended = true;
    this.stop();
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.resolve(null);
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, error: Error): void {
    this.failed = true;
    this.failure = this.signal.aborted ? this.signal.reason : error;
    this.stop();
    const opening = this.opening;
    this.opening = undefined;
    opening?.reject(this.failure);
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(this.failure);
  }

  // The reader's side.

  read(): Promise<Buffer | null> {
    // One reader, one read at a time: a second waiting read would leave the first unanswered.
    if (this.waiter !== undefined) return Promise.reject(new Error('a read is already waiting'));
    const piece = this.pieces.shift();
    if (piece !== undefined) {
      this.queued -= piece.byteLength;
      if (this.queued === 0 && this.controller?.paused === true) this.controller.resume();
      return Promise.resolve(piece);
    }
    if (this.failed) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  async text(limit: number, tooLarge?: () => Error): Promise<string> {
    const parts: Buffer[] = [];
    let size = 0;
    for (let piece = await this.read(); piece !== null; piece = await this.read()) {
      if (size + piece.byteLength > limit) {
        this.cancel();
        if (tooLarge !== undefined) throw tooLarge();
        parts.push(piece.subarray(0, limit - size));
        break;
      }
      parts.push(piece);
      size += piece.byteLength;
    }
    return (parts.length === 1 ? parts[0]! : Buffer.concat(parts)).toString('utf8');
  }

  cancel(): void {
    if (this.over) return;
    this.controller?.abort(new Error('the call is over'));
  }

  drain(graceMs: number): void {
    if (this.over) return;
    this.dropping = true;
    this.pieces.length = 0;
    this.queued = 0;
    if (this.controller?.paused === true) this.controller.resume();
    // Resuming may have read the body to its end at once.
    if (this.over) return;
    this.graceTimer = setTimeout(() => this.cancel(), graceMs);
    this.graceTimer.unref();
  }

  private readonly onAbort = (): void => {
    const reason: unknown = this.signal.reason;
    if (this.controller !== undefined) {
      this.controller.abort(reason as Error);
      return;
    }
    // Not started yet (queued in the pool): fail now; undici aborts it when it starts.
    this.onResponseError(undefined, reason as Error);
  };

  /** The call is over: nothing more to listen for. */
  private stop(): void {
    this.signal.removeEventListener('abort', this.onAbort);
    clearTimeout(this.graceTimer);
  }
}
