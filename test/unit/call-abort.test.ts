import { afterEach, describe, expect, it, vi } from 'vitest';
import { CallAbort, type CallSignal } from '../../src/contract/index.js';

interface Controller {
  signal: CallSignal;
  abort(reason?: unknown): void;
}

/**
 * One script of what the chat path does with a controller, and what it saw: run against an
 * AbortController and a CallAbort, the two must see the same.
 */
function script(make: () => Controller): unknown[] {
  const seen: unknown[] = [];
  const c = make();
  const first = (): void => void seen.push(['first', c.signal.reason]);
  const second = (): void => void seen.push('second');
  const removed = (): void => void seen.push('removed');
  seen.push(c.signal.aborted, c.signal.reason);
  c.signal.throwIfAborted();
  c.signal.addEventListener('abort', first, { once: true });
  c.signal.addEventListener('abort', first);
  c.signal.addEventListener('abort', removed);
  c.signal.addEventListener('abort', second, { once: true });
  c.signal.removeEventListener('abort', removed);
  c.signal.removeEventListener('abort', () => undefined);
  const reason = new Error('the client closed the connection');
  c.abort(reason);
  seen.push(c.signal.aborted, c.signal.reason === reason);
  c.abort(new Error('again'));
  seen.push(c.signal.reason === reason);
  c.signal.addEventListener('abort', () => void seen.push('too late'));
  try {
    c.signal.throwIfAborted();
    seen.push('not thrown');
  } catch (error) {
    seen.push(error === reason);
  }
  const bare = make();
  bare.abort();
  const why = bare.signal.reason;
  seen.push(why instanceof DOMException && why.name === 'AbortError');
  return seen;
}

describe('CallAbort', () => {
  afterEach(() => vi.restoreAllMocks());

  it('does what an AbortController does on the chat path', () => {
    const native = script(() => new AbortController());
    const light = script(() => new CallAbort());
    expect(light).toEqual(native);
    // The script itself saw the things it checks (a script that saw nothing would match too).
    expect(native).toEqual([false, undefined, ['first', expect.any(Error)], 'second', true, true, true, true, true]);
  });

  it('runs every listener when one throws, and throws its error on the next tick', () => {
    const ticks: Array<() => void> = [];
    vi.spyOn(process, 'nextTick').mockImplementation(((callback: () => void) => void ticks.push(callback)) as typeof process.nextTick);
    const abort = new CallAbort();
    const ran: string[] = [];
    abort.addEventListener('abort', () => {
      ran.push('a');
      throw new Error('listener failed');
    });
    abort.addEventListener('abort', () => void ran.push('b'));
    expect(() => abort.abort('stop')).not.toThrow();
    expect(ran).toEqual(['a', 'b']);
    expect(ticks).toHaveLength(1);
    expect(() => ticks[0]?.()).toThrow('listener failed');
  });

  it('keeps no listener once aborted', () => {
    const abort = new CallAbort();
    let calls = 0;
    abort.addEventListener('abort', () => void calls++);
    abort.abort();
    abort.abort();
    expect(calls).toBe(1);
  });
});
