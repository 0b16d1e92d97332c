/**
 * Counts events per key over a sliding window, in memory: how long until a key is back
 * under its limit. The login throttle and the registration limit are built on it.
 */
/** Keys kept before a sweep drops the ones whose events have all left the window. */
const SWEEP_AT = 10_000;

export class SlidingWindowCounter {
  readonly #windowMs: number;
  /** Event times per key, oldest first. */
  readonly #events = new Map<string, number[]>();

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  /** Milliseconds until `key` has fewer than `max` events in the window; 0 when it has already. */
  waitMs(key: string, max: number, now: number): number {
    const times = this.#recent(key, now);
    if (times.length < max) return 0;
    // Blocked until enough events leave the window to get back under the limit.
    const freeing = times[times.length - max];
    return freeing === undefined ? 0 : freeing + this.#windowMs - now;
  }

  /** Check and count in one step: counts one event when `key` is under `max` and returns 0; else counts nothing and returns the wait. */
  take(key: string, max: number, now: number): number {
    const wait = this.waitMs(key, max, now);
    if (wait === 0) this.record(key, now);
    return wait;
  }

  record(key: string, now: number): void {
    if (this.#events.size >= SWEEP_AT) this.#sweep(now);
    const times = this.#recent(key, now);
    times.push(now);
    this.#events.set(key, times);
  }

  /** Takes back one event recorded at `time` (an attempt that turned out not to count). */
  remove(key: string, time: number): void {
    const times = this.#events.get(key);
    if (times === undefined) return;
    const at = times.lastIndexOf(time);
    if (at >= 0) times.splice(at, 1);
    if (times.length === 0) this.#events.delete(key);
  }

  forget(key: string): void {
    this.#events.delete(key);
  }

  #recent(key: string, now: number): number[] {
    const since = now - this.#windowMs;
    return (this.#events.get(key) ?? []).filter((t) => t > since);
  }

  #sweep(now: number): void {
    const since = now - this.#windowMs;
    for (const [key, times] of this.#events) {
      if ((times[times.length - 1] ?? 0) <= since) this.#events.delete(key);
    }
  }
}
