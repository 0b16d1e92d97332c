import type { CallSignal } from '../../contract/index.js';

/**
 * A timer that an AbortSignal cancels: on abort it clears its timeout and rejects with
 * the signal's reason at once, so an aborted request leaves no timer behind.
 * Uses the global setTimeout (not node:timers/promises) so tests can fake it.
 */
export function abortableSleep(ms: number, signal: CallSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export function abortReason(signal: CallSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}
