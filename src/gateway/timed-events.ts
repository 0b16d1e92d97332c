/**
 * The time limits of one upstream attempt, on events rather than bytes, so they hold
 * for every provider kind and for an upstream that drips bytes without ever finishing
 * an event: the first event within `firstTokenMs`, then no gap longer than `idleMs`, and
 * the whole call within `totalMs`. A limit that expires aborts the attempt (releasing
 * the upstream socket) and throws MoongateError('timeout'): a 504 before the first
 * event, an in-band error after it (the gateway's rule).
 */
import { MoongateError, type ChatEvent } from '../contract/index.js';

export interface EventTimeouts {
  firstTokenMs: number;
  idleMs: number;
  totalMs: number;
}

export class TimedEvents implements AsyncIterator<ChatEvent> {
  private readonly startedAt = performance.now();
  private first = true;
  private expired: MoongateError | undefined;

  constructor(
    private readonly inner: AsyncIterator<ChatEvent>,
    private readonly timeouts: EventTimeouts,
    /** Aborts the upstream call of this attempt. */
    private readonly abort: (reason: MoongateError) => void,
  ) {}

  async next(): Promise<IteratorResult<ChatEvent>> {
    if (this.expired !== undefined) throw this.expired;
    const elapsed = performance.now() - this.startedAt;
    const totalLeft = this.timeouts.totalMs - elapsed;
    const [limit, why] = this.first
      ? Math.min(this.timeouts.firstTokenMs - elapsed, totalLeft) === totalLeft
        ? [totalLeft, 'the upstream did not finish within the total time allowed']
        : [this.timeouts.firstTokenMs - elapsed, 'the upstream sent no first token in time']
      : this.timeouts.idleMs <= totalLeft
        ? [this.timeouts.idleMs, 'the upstream went silent for too long mid-stream']
        : [totalLeft, 'the upstream did not finish within the total time allowed'];
    const pending = this.inner.next();
    // The error is made only when the limit expires: building one (a stack trace) for every
    // event of every stream was the gateway's largest single cost under load.
    let timeout: MoongateError | undefined;
    let timer: NodeJS.Timeout | undefined;
    const expiry = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        timeout = new MoongateError('timeout', why);
        reject(timeout);
      }, Math.max(0, limit));
    });
    try {
      const step = await Promise.race([pending, expiry]);
      this.first = false;
      return step;
    } catch (error) {
      if (timeout !== undefined && error === timeout) {
        this.expired = timeout;
        this.abort(timeout);
        // The upstream's own next() now rejects with the abort; nobody waits for it.
        pending.catch(() => undefined);
        void this.inner.return?.().catch(() => undefined);
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  async return(): Promise<IteratorResult<ChatEvent>> {
    if (this.expired !== undefined) return { done: true, value: undefined };
    return (await this.inner.return?.()) ?? { done: true, value: undefined };
  }
}
