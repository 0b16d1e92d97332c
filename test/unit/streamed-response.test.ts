/**
 * The queue between undici's dispatch and the SSE reader (streamed-response.ts), driven by a
 * scripted dispatcher: what undici would call, in the order a test chooses, with a
 * controller that records pause, resume and abort. The real upstream cases (cuts, timeouts,
 * [DONE] with a body kept open, connection reuse) run through the provider's own tests.
 */
import type { Dispatcher } from 'undici';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { QUEUE_PAUSE_BYTES, openStream, type StreamedResponse } from '../../src/providers/openai-compatible/streamed-response.js';

class ScriptedController implements Dispatcher.DispatchController {
  paused = false;
  aborted = false;
  reason: Error | null = null;
  pauses = 0;
  resumes = 0;
  abort(reason: Error): void {
    this.aborted = true;
    this.reason = reason;
  }
  pause(): void {
    this.paused = true;
    this.pauses++;
  }
  resume(): void {
    this.paused = false;
    this.resumes++;
  }
}

/** Takes the handler of each dispatch; the test plays undici's part on it. */
class ScriptedDispatcher {
  handler: Dispatcher.DispatchHandler | undefined;
  readonly controller = new ScriptedController();
  dispatch(_options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    this.handler = handler;
    return true;
  }
  start(): void {
    this.handler?.onRequestStart?.(this.controller, {});
  }
  headers(status = 200): void {
    this.handler?.onResponseStart?.(this.controller, status, { 'content-type': 'text/event-stream' }, 'OK');
  }
  data(text: string | Buffer): void {
    this.handler?.onResponseData?.(this.controller, typeof text === 'string' ? Buffer.from(text) : text);
  }
  end(): void {
    this.handler?.onResponseEnd?.(this.controller, {});
  }
  fail(error: Error): void {
    this.handler?.onResponseError?.(this.controller, error);
  }
}

const REQUEST: Dispatcher.DispatchOptions = { origin: 'http://upstream.invalid', path: '/v1/chat/completions', method: 'POST' };

let upstream: ScriptedDispatcher;

async function opened(signal = new AbortController().signal): Promise<StreamedResponse> {
  const response = openStream(upstream as unknown as Dispatcher, REQUEST, signal);
  upstream.start();
  upstream.headers();
  return response;
}

beforeEach(() => {
  upstream = new ScriptedDispatcher();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('openStream', () => {
  it('resolves at the final status (not a 1xx), then hands out the pieces in order and null at the end', async () => {
    const pending = openStream(upstream as unknown as Dispatcher, REQUEST, new AbortController().signal);
    upstream.start();
    upstream.headers(100);
    upstream.headers(200);
    const response = await pending;
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/event-stream');
    upstream.data('a');
    upstream.data('b');
    const waiting = [response.read(), response.read(), response.read()];
    upstream.data('c');
    upstream.end();
    expect((await Promise.all(waiting)).map((piece) => piece?.toString())).toEqual(['a', 'b', 'c']);
    expect(await response.read()).toBeNull();
    expect(response.over).toBe(true);
  });

  it('pauses the upstream once a queue of unread pieces reaches the mark, and resumes it once they are read', async () => {
    const response = await opened();
    const piece = Buffer.alloc(QUEUE_PAUSE_BYTES / 4);
    for (let i = 0; i < 3; i++) upstream.data(piece);
    expect(upstream.controller.pauses).toBe(0);
    upstream.data(piece);
    expect(upstream.controller.paused).toBe(true);
    for (let i = 0; i < 3; i++) await response.read();
    expect(upstream.controller.paused).toBe(true);
    await response.read();
    expect(upstream.controller.paused).toBe(false);
    expect(upstream.controller.resumes).toBe(1);
  });

  it('rejects the reader with the failure, and rejects the opening when it comes before the headers', async () => {
    const response = await opened();
    const waiting = response.read();
    const cut = new Error('other side closed');
    upstream.fail(cut);
    await expect(waiting).rejects.toBe(cut);
    await expect(response.read()).rejects.toBe(cut);

    upstream = new ScriptedDispatcher();
    const pending = openStream(upstream as unknown as Dispatcher, REQUEST, new AbortController().signal);
    const refused = new Error('connect ECONNREFUSED');
    upstream.fail(refused);
    await expect(pending).rejects.toBe(refused);
  });

  it('aborts the call with the signal’s reason, and the reader gets that reason whatever undici reports', async () => {
    const caller = new AbortController();
    const response = await opened(caller.signal);
    const waiting = response.read();
    caller.abort();
    expect(upstream.controller.reason).toBe(caller.signal.reason);
    upstream.fail(new Error('aborted'));
    await expect(waiting).rejects.toBe(caller.signal.reason);
  });

  it('fails at once when aborted before the call started, and aborts the call when it starts', async () => {
    const caller = new AbortController();
    const pending = openStream(upstream as unknown as Dispatcher, REQUEST, caller.signal);
    caller.abort();
    await expect(pending).rejects.toBe(caller.signal.reason);
    upstream.start();
    expect(upstream.controller.reason).toBe(caller.signal.reason);

    const before = new AbortController();
    before.abort();
    upstream = new ScriptedDispatcher();
    await expect(openStream(upstream as unknown as Dispatcher, REQUEST, before.signal)).rejects.toBe(before.signal.reason);
    expect(upstream.handler).toBeUndefined();
  });

  it('refuses a second read while one waits, and still answers the first', async () => {
    const response = await opened();
    const first = response.read();
    await expect(response.read()).rejects.toThrow('a read is already waiting');
    upstream.data('a');
    expect((await first)?.toString()).toBe('a');
  });

  it('reads the rest as text, cut at a limit or failed with the error given', async () => {
    const response = await opened();
    upstream.data('héllo ');
    upstream.data('world');
    upstream.end();
    expect(await response.text(1024)).toBe('héllo world');

    upstream = new ScriptedDispatcher();
    const cut = await opened();
    upstream.data('0123456789');
    const text = cut.text(4);
    expect(await text).toBe('0123');
    expect(upstream.controller.aborted).toBe(true);

    upstream = new ScriptedDispatcher();
    const large = await opened();
    upstream.data('0123456789');
    await expect(large.text(4, () => new Error('too large'))).rejects.toThrow('too large');
    expect(upstream.controller.aborted).toBe(true);
  });

  it('cancels a body that is not over, and leaves one that is', async () => {
    const response = await opened();
    response.cancel();
    expect(upstream.controller.aborted).toBe(true);

    upstream = new ScriptedDispatcher();
    const ended = await opened();
    upstream.end();
    ended.cancel();
    expect(upstream.controller.aborted).toBe(false);
  });

  it('drains after the answer: drops what comes, resumes a paused upstream, and cuts it after the grace unless it ends', async () => {
    vi.useFakeTimers();
    const response = await opened();
    upstream.data(Buffer.alloc(QUEUE_PAUSE_BYTES));
    expect(upstream.controller.paused).toBe(true);
    response.drain(1000);
    expect(upstream.controller.paused).toBe(false);
    upstream.data('dropped');
    vi.advanceTimersByTime(999);
    expect(upstream.controller.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(upstream.controller.aborted).toBe(true);

    upstream = new ScriptedDispatcher();
    const ending = await opened();
    ending.drain(1000);
    upstream.end();
    vi.advanceTimersByTime(5000);
    expect(upstream.controller.aborted).toBe(false);
  });
});
