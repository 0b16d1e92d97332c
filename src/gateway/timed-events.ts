/**
 * The time limits of one upstream attempt, on events rather than bytes, so they hold
 * for every provider kind and for an upstream that drips bytes without ever finishing
 * an event: the first event within `firstTokenMs`, then no gap longer than `idleMs`, and
 * the whole call within `totalMs`. A limit that expires aborts the attempt (releasing
 * the upstream socket) and throws MoongateError('timeout'): a 504 before the first
 * event, an in-band error after it (the gateway's rule).
 *
 * Two timers per attempt, made once: the total deadline, and the gap timer (first token,
 * then idle) that each `next()` pushes back with `refresh()`. A timer and a race per event
 * were a large share of the gateway's cost per streamed chunk. A gap is counted from the
 * `next()` call, as before: a consumer that is slow to ask (a client reading slowly) is
 * not the upstream's silence, so a gap timer that fires while nobody waits does nothing.
 */
import { MoongateError, type ChatEvent } from '../contract/index.js';

export interface EventTimeouts {
  firstTokenMs: number;
  idleMs: number;
  totalMs: number;
}

const NO_FIRST_TOKEN = 'the upstream sent no first token in time';
const SILENT = 'the upstream went silent for too long mid-stream';
/** The message of a call that outlived its channel's total time (also the router's, for a call answered in one piece). */
export const TOTAL_TIME_EXPIRED = 'the upstream did not finish within the total time allowed';

export class TimedEvents implements AsyncIterator<ChatEvent> {
  private readonly startedAt = performance.now();
  private expired: MoongateError | undefined;
  /** The total deadline passed while nobody waited: the next `next()` expires at once. */
  private totalPassed = false;
  /** Rejects the pending `next()`; set only while one waits. */
  private waiter: ((error: unknown) => void) | undefined;
  /** Resolves the pending `next()`; set only while one waits. */
  private resolver: ((step: IteratorResult<ChatEvent>) => void) | undefined;
  private totalTimer: NodeJS.Timeout | undefined;
  private gapTimer: NodeJS.Timeout | undefined;
  /** The gap timer measures the first token (until the first event), then the idle gap. */
  private gapIsIdle = false;
  private disarmed = false;
  /**
   * Called once when the iteration ends by itself: `undefined` at its end, the error when it
   * failed or a limit expired (not after `return()`). Set by the router once the first event is in.
   */
  onEnd: ((error: unknown) => void) | undefined;

  constructor(
    private readonly inner: AsyncIterator<ChatEvent>,
    private readonly timeouts: EventTimeouts,
    /** Aborts the upstream call of this attempt. */
    private readonly abort: (reason: MoongateError) => void,
  ) {}

  next(): Promise<IteratorResult<ChatEvent>> {
    if (this.expired !== undefined) return Promise.reject(this.expired);
    if (this.totalPassed) {
      const timeout = this.expire(TOTAL_TIME_EXPIRED);
      this.ended(timeout);
      return Promise.reject(timeout);
    }
    this.arm();
    const pending = this.inner.next();
    // The step's handlers are made once per iterator, not per event: only the promise handed
    // back (which a limit may reject before the upstream answers) is new for each call.
    return new Promise<IteratorResult<ChatEvent>>((resolve, reject) => {
      this.resolver = resolve;
      this.waiter = reject;
      pending.then(this.onStep, this.onFailure);
    });
  }

  private readonly onStep = (step: IteratorResult<ChatEvent>): void => {
    // After an expiry the caller has its error already; a late step goes nowhere.
    if (this.expired !== undefined) return;
    const resolve = this.resolver;
    this.resolver = undefined;
    this.waiter = undefined;
    if (step.done === true) {
      this.disarm();
      this.ended(undefined);
    } else if (!this.gapIsIdle) this.startIdle();
    resolve?.(step);
  };

  private readonly onFailure = (error: unknown): void => {
    if (this.expired !== undefined) return;
    const reject = this.waiter;
    this.resolver = undefined;
    this.waiter = undefined;
    this.disarm();
    this.ended(error);
    reject?.(error);
  };

  async return(): Promise<IteratorResult<ChatEvent>> {
    this.disarm();
    if (this.expired !== undefined) return { done: true, value: undefined };
    return (await this.inner.return?.()) ?? { done: true, value: undefined };
  }

  /** Starts the timers on the first call, and pushes the gap back on every later one. */
  private arm(): void {
    if (this.disarmed) return;
    if (this.totalTimer === undefined) {
      const totalLeft = this.timeouts.totalMs - (performance.now() - this.startedAt);
      this.totalTimer = setTimeout(() => this.onTotal(), Math.max(0, totalLeft));
      // A first-token limit at or past the total deadline is the total deadline.
      if (this.timeouts.firstTokenMs < totalLeft) {
        this.gapTimer = setTimeout(() => this.onGap(), this.timeouts.firstTokenMs);
      }
      return;
    }
    this.gapTimer?.refresh();
  }

  private startIdle(): void {
    this.gapIsIdle = true;
    clearTimeout(this.gapTimer);
    this.gapTimer = this.disarmed ? undefined : setTimeout(() => this.onGap(), this.timeouts.idleMs);
  }

  private onGap(): void {
    if (this.waiter !== undefined) this.fail(this.expire(this.gapIsIdle ? SILENT : NO_FIRST_TOKEN));
  }

  private onTotal(): void {
    if (this.waiter !== undefined) this.fail(this.expire(TOTAL_TIME_EXPIRED));
    else this.totalPassed = true;
  }

  /** Ends the attempt with a timeout: the upstream is aborted and released. */
  private expire(why: string): MoongateError {
    // The error is made only when a limit expires: a stack trace per event would be costly.
    const timeout = new MoongateError('timeout', why);
    this.expired = timeout;
    this.disarm();
    this.abort(timeout);
    // The upstream's own next() now rejects with the abort; nobody waits for it.
    void this.inner.return?.().catch(() => undefined);
    return timeout;
  }

  private fail(error: MoongateError): void {
    const reject = this.waiter;
    this.waiter = undefined;
    this.resolver = undefined;
    this.ended(error);
    reject?.(error);
  }

  private ended(error: unknown): void {
    const onEnd = this.onEnd;
    this.onEnd = undefined;
    onEnd?.(error);
  }

  private disarm(): void {
    this.disarmed = true;
    clearTimeout(this.totalTimer);
    clearTimeout(this.gapTimer);
  }
}
