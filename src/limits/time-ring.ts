/**
 * Times in the order they were added, oldest first: a sliding window's log, which adds at
 * the back and drops from the front. A ring of doubles that only grows, so once it has
 * reached the window's size it allocates nothing. An array used the same way (push, shift)
 * reallocates its store now and then, and the new store, kept by a long-lived log, is
 * promoted: old-generation garbage at the rate of the requests (docs/benchmark.md,
 * "Old-space garbage").
 */
export class TimeRing {
  #times = new Float64Array(8);
  #start = 0;
  #length = 0;

  get length(): number {
    return this.#length;
  }

  /** The time at `index` from the oldest (0), or undefined past the end. */
  at(index: number): number | undefined {
    if (index < 0 || index >= this.#length) return undefined;
    return this.#times[(this.#start + index) & (this.#times.length - 1)];
  }

  /** The newest time, or undefined when empty. */
  last(): number | undefined {
    return this.at(this.#length - 1);
  }

  push(time: number): void {
    if (this.#length === this.#times.length) this.#grow();
    this.#times[(this.#start + this.#length) & (this.#times.length - 1)] = time;
    this.#length++;
  }

  /** Drops the times at or before `cutoff` from the front. */
  dropThrough(cutoff: number): void {
    const times = this.#times;
    const mask = times.length - 1;
    while (this.#length > 0 && (times[this.#start] as number) <= cutoff) {
      this.#start = (this.#start + 1) & mask;
      this.#length--;
    }
  }

  /** Twice the room (a power of two, so an index wraps with a mask), the times in order from 0. */
  #grow(): void {
    const times = new Float64Array(this.#times.length * 2);
    for (let i = 0; i < this.#length; i++) times[i] = this.at(i) as number;
    this.#times = times;
    this.#start = 0;
  }
}
