/**
 * How a chat call is cancelled, from the HTTP route down to a provider: the part of an
 * AbortSignal those layers use (`CallSignal`), and a light controller of it (`CallAbort`).
 *
 * Node 20 spends about 8 µs making each AbortSignal (an EventTarget whose prototype is
 * swapped after it is built, with its own listener map), and a chat request made two: the
 * route's, and one per upstream attempt. That was about 4% of a non-stream request's CPU
 * (docs/benchmark.md, "Where the time goes"). A CallAbort is a plain object with an array of
 * listeners. A real AbortSignal is a CallSignal too, so whoever calls a provider or the
 * gateway from outside a request (the CLI's channel test, the tests) may pass one.
 */

/** What a chat call reads of its cancellation. An AbortSignal is one. */
export interface CallSignal {
  readonly aborted: boolean;
  /** Why it was aborted (undefined until then). */
  readonly reason: unknown;
  throwIfAborted(): void;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * A controller and its signal in one object, with an AbortController's semantics where the
 * chat path relies on them: `abort` happens once (later calls do nothing), listeners run in
 * the order they were added and once, a listener added twice runs once, one added after the
 * abort never runs, and without a reason the reason is an `AbortError` DOMException. A
 * listener that throws does not stop the others; its error is thrown on the next tick, as
 * an EventTarget reports it.
 */
export class CallAbort implements CallSignal {
  #aborted = false;
  #reason: unknown = undefined;
  #listeners: Array<() => void> | undefined;

  /** Itself: read as `controller.signal`, like an AbortController. */
  get signal(): CallSignal {
    return this;
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  get reason(): unknown {
    return this.#reason;
  }

  abort(reason?: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason === undefined ? new DOMException('This operation was aborted', 'AbortError') : reason;
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners === undefined) return;
    for (const listener of listeners) {
      try {
        listener();
      } catch (error) {
        process.nextTick(() => {
          throw error;
        });
      }
    }
  }

  throwIfAborted(): void {
    if (this.#aborted) throw this.#reason;
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.#aborted) return;
    const listeners = (this.#listeners ??= []);
    if (!listeners.includes(listener)) listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const listeners = this.#listeners;
    if (listeners === undefined) return;
    const at = listeners.indexOf(listener);
    if (at >= 0) listeners.splice(at, 1);
  }
}
