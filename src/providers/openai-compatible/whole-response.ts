/**
 * One upstream call whose answer is read whole (a non-stream completion, or an error), on
 * undici's dispatch API: no body stream, async resource or promise per chunk in between, as
 * `request()` has, which cost a non-stream request more than reading its body does (issue 20).
 */
import type { Dispatcher } from 'undici';
import type { UpstreamHeaders } from './upstream-errors.js';

export interface WholeResponse {
  statusCode: number;
  headers: UpstreamHeaders;
  /** The body, or for a status outside 2xx at most its first `errorBytes`. */
  body: Buffer;
}

export interface WholeOptions {
  /** The largest 2xx body read (a streamed one included); a larger one fails the call with `tooLarge()`. */
  okBytes: number;
  /** How much of another status's body is kept; the rest is cut. */
  errorBytes: number;
  tooLarge: () => Error;
  /** Told the final status as soon as the headers arrive (a 2xx is when the upstream accepted the request). */
  onStatus?: (statusCode: number) => void;
  /**
   * For a 2xx, a reader that takes the body piece by piece instead of keeping it, and says
   * when it has read enough: an answer that ends before its body does (an SSE reply at
   * [DONE]) resolves then. Undefined keeps the body whole.
   */
  watch?: (headers: UpstreamHeaders) => ((chunk: Buffer) => boolean) | undefined;
  /**
   * After a watcher had enough, how long what is left of the body (usually just the chunked
   * terminator, still in flight) is read off and dropped, so the connection goes back to the
   * pool, before the body is cut.
   */
  graceMs: number;
}

/**
 * Sends the request and resolves once its answer is in. The signal aborts the call: the
 * promise then rejects with its reason. Any other failure (transport, timeout, a body too
 * large, a watcher's throw) rejects with undici's error or the thrown one; except that a
 * status outside 2xx whose body fails still resolves, with what of it came (the status says
 * what went wrong).
 */
export function requestWhole(
  dispatcher: Dispatcher,
  request: Dispatcher.DispatchOptions,
  signal: AbortSignal,
  options: WholeOptions,
): Promise<WholeResponse> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    let controller: Dispatcher.DispatchController | undefined;
    let statusCode = 0;
    let headers: UpstreamHeaders = {};
    let parts: Buffer[] = [];
    let size = 0;
    let kept = Infinity;
    let over = false;
    let watcher: ((chunk: Buffer) => boolean) | undefined;
    let settled = false;
    let grace: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      controller?.abort(signal.reason);
      finish(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const finish = (error: Error | undefined): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      if (error !== undefined) reject(signal.aborted ? signal.reason : error);
      else resolve({ statusCode, headers, body: parts.length === 1 ? parts[0]! : Buffer.concat(parts) });
    };
    /** Fails the call from inside one of undici's callbacks: the promise rejects, the rest is cut. */
    const failAndCut = (started: Dispatcher.DispatchController, error: Error): void => {
      finish(error);
      started.abort(error);
    };
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(started) {
        controller = started;
        if (signal.aborted) started.abort(signal.reason);
      },
      onResponseStart(started, status, responseHeaders) {
        // 1xx answers come before the final one; only the final one counts.
        if (status < 200) return;
        statusCode = status;
        headers = responseHeaders as UpstreamHeaders;
        parts = [];
        size = 0;
        kept = status <= 299 ? options.okBytes : options.errorBytes;
        try {
          options.onStatus?.(status);
          if (status <= 299) watcher = options.watch?.(headers);
        } catch (error) {
          failAndCut(started, error as Error);
        }
      },
      onResponseData(started, chunk) {
        if (over || settled) return;
        size += chunk.byteLength;
        if (size <= kept) {
          if (watcher === undefined) {
            parts.push(chunk);
            return;
          }
          let enough: boolean;
          try {
            enough = watcher(chunk);
          } catch (error) {
            failAndCut(started, error as Error);
            return;
          }
          if (!enough) return;
          // Answered: what is left is dropped as it comes (settled), and cut if it lingers.
          finish(undefined);
          grace = setTimeout(() => started.abort(new Error('the body went on after its answer')), options.graceMs);
          grace.unref();
          return;
        }
        over = true;
        if (statusCode <= 299) {
          failAndCut(started, options.tooLarge());
          return;
        }
        // Enough of an error body: what was kept is the answer, the rest is cut.
        parts.push(chunk.subarray(0, chunk.byteLength - (size - kept)));
        finish(undefined);
        started.abort(new Error('the rest of the error body is not read'));
      },
      onResponseEnd() {
        clearTimeout(grace);
        finish(undefined);
      },
      onResponseError(_controller, error) {
        clearTimeout(grace);
        // A status outside 2xx says what went wrong even when its body does not arrive.
        finish(statusCode > 299 && !signal.aborted ? undefined : error);
      },
    };
    try {
      dispatcher.dispatch(request, handler);
    } catch (error) {
      // undici's own dispatchers report through onResponseError; another one may throw.
      finish(error as Error);
    }
  });
}
