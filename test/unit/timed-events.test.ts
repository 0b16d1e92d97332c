/**
 * The per-attempt timers on events: first token, idle gap and total deadline. Each one that
 * expires aborts the upstream and throws MoongateError('timeout'); events in time pass.
 * On Vitest's fake clock: the upstream's gaps and the limits are played in order, never waited for.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MoongateError, type ChatEvent } from '../../src/contract/index.js';
import { TimedEvents } from '../../src/gateway/timed-events.js';

/** Yields a delta after each of `gaps` (ms), then a finish; stops when `signal` aborts. */
async function* paced(gaps: number[], signal: AbortSignal): AsyncGenerator<ChatEvent> {
  for (const gap of gaps) {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, gap);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(signal.reason as Error);
      });
    });
    yield { type: 'delta', index: 0, content: 'x' };
  }
  yield { type: 'finish', index: 0, reason: 'stop' };
}

/** Plays every pending timer (and the promises they settle) in order, then hands back the outcome. */
async function settled<T>(outcome: Promise<T>): Promise<T> {
  await vi.runAllTimersAsync();
  return outcome;
}

function run(gaps: number[], timeouts: { firstTokenMs: number; idleMs: number; totalMs: number }) {
  return settled(consume(gaps, timeouts));
}

async function consume(gaps: number[], timeouts: { firstTokenMs: number; idleMs: number; totalMs: number }) {
  const controller = new AbortController();
  const events = new TimedEvents(paced(gaps, controller.signal), timeouts, (reason) => controller.abort(reason));
  let received = 0;
  try {
    while ((await events.next()).done !== true) received++;
    return { received, error: undefined, aborted: controller.signal.aborted };
  } catch (error) {
    return { received, error: error as MoongateError, aborted: controller.signal.aborted };
  }
}

describe('TimedEvents', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('lets a stream within every limit through, untouched', async () => {
    expect(await run([5, 5, 5], { firstTokenMs: 500, idleMs: 500, totalMs: 5000 })).toEqual({ received: 4, error: undefined, aborted: false });
  });

  it('no first event within firstTokenMs', async () => {
    const result = await run([300], { firstTokenMs: 50, idleMs: 5000, totalMs: 5000 });
    expect(result).toMatchObject({ received: 0, aborted: true });
    expect(result.error).toMatchObject({ code: 'timeout', status: 504, message: 'the upstream sent no first token in time' });
  });

  it('a gap longer than idleMs after the first event', async () => {
    const result = await run([5, 5, 300], { firstTokenMs: 500, idleMs: 50, totalMs: 5000 });
    expect(result).toMatchObject({ received: 2, aborted: true });
    expect(result.error?.message).toBe('the upstream went silent for too long mid-stream');
  });

  it('counts a gap from the next() call: a consumer slow to ask is not an idle upstream', async () => {
    const controller = new AbortController();
    const events = new TimedEvents(paced([0, 0, 0], controller.signal), { firstTokenMs: 500, idleMs: 50, totalMs: 5000 }, (reason) =>
      controller.abort(reason),
    );
    const slowConsumer = async (): Promise<number> => {
      let received = 0;
      while ((await events.next()).done !== true) {
        received++;
        // The consumer (a slow client, say) takes three idle limits before it asks again.
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
      return received;
    };
    expect(await settled(slowConsumer())).toBe(4);
    expect(controller.signal.aborted).toBe(false);
  });

  it('reports the end once to onEnd: undefined at the end, the timeout when a limit expired', async () => {
    const ends: unknown[] = [];
    const ok = new AbortController();
    const done = new TimedEvents(paced([1], ok.signal), { firstTokenMs: 500, idleMs: 500, totalMs: 5000 }, (r) => ok.abort(r));
    done.onEnd = (error) => ends.push(error);
    await settled(
      (async () => {
        while ((await done.next()).done !== true);
      })(),
    );
    const cut = new AbortController();
    const silent = new TimedEvents(paced([1, 300], cut.signal), { firstTokenMs: 500, idleMs: 50, totalMs: 5000 }, (r) => cut.abort(r));
    silent.onEnd = (error) => ends.push(error);
    const failed = (async () => {
      while ((await silent.next()).done !== true);
    })().catch((error: unknown) => error);
    expect(await settled(failed)).toMatchObject({ code: 'timeout' });
    expect(ends).toHaveLength(2);
    expect(ends[0]).toBeUndefined();
    expect(ends[1]).toMatchObject({ code: 'timeout', message: 'the upstream went silent for too long mid-stream' });
  });

  it('steady events that together outlast totalMs', async () => {
    const result = await run(Array.from({ length: 50 }, () => 20), { firstTokenMs: 500, idleMs: 500, totalMs: 150 });
    expect(result.aborted).toBe(true);
    expect(result.received).toBeGreaterThan(1);
    expect(result.received).toBeLessThan(50);
    expect(result.error?.message).toBe('the upstream did not finish within the total time allowed');
  });
});
