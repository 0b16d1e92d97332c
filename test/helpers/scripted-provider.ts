/**
 * A provider that plays a script of events (or failures) and records the calls it got,
 * for gateway tests that need an upstream to misbehave in a precise way.
 */
import type { ChatEvent } from '../../src/contract/index.js';
import type { Provider, ProviderCall } from '../../src/providers/provider.js';

/**
 * `accept`: the upstream accepts the request here (ProviderCall.onAccepted), as a 2xx would.
 * `gate`: the script stops here until the test calls `open()` (or the call is aborted).
 */
export type ScriptStep = ChatEvent | { type: 'throw'; error: Error } | { type: 'wait'; ms: number } | { type: 'accept' } | { type: 'gate' };

export class ScriptedProvider implements Provider {
  readonly kind = 'scripted';
  readonly calls: ProviderCall[] = [];
  readonly aborted: ProviderCall[] = [];
  private readonly waiters: Array<() => void> = [];
  private readonly gates: Array<() => void> = [];
  /** How many calls are stopped at a gate now. */
  atGate = 0;

  /** Test hooks: told of each call, of the acceptance, and of each event handed out (with its count). */
  onCall: (() => void) | undefined;
  onAccept: (() => void) | undefined;
  onYield: ((count: number) => void) | undefined;

  constructor(private readonly script: ScriptStep[]) {}

  /** Resolves once `check` holds, re-checked at every call and abort: it waits on those, never on a clock. */
  async until(check: () => boolean): Promise<void> {
    while (!check()) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  async *chat(call: ProviderCall): AsyncIterable<ChatEvent> {
    this.calls.push(call);
    this.notify();
    call.signal.addEventListener(
      'abort',
      () => {
        this.aborted.push(call);
        this.notify();
      },
      { once: true },
    );
    this.onCall?.();
    let yielded = 0;
    for (const step of this.script) {
      // As a real provider: nothing more is handed out once the caller left.
      if (call.signal.aborted) throw call.signal.reason instanceof Error ? call.signal.reason : new Error('aborted');
      if (step.type === 'throw') throw step.error;
      if (step.type === 'accept') {
        call.onAccepted?.();
        this.onAccept?.();
        continue;
      }
      if (step.type === 'gate') {
        this.atGate++;
        this.notify();
        try {
          await new Promise<void>((resolve, reject) => {
            this.gates.push(resolve);
            call.signal.addEventListener('abort', () => reject(call.signal.reason instanceof Error ? call.signal.reason : new Error('aborted')), {
              once: true,
            });
          });
        } finally {
          this.atGate--;
        }
        continue;
      }
      if (step.type === 'wait') {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(resolve, step.ms);
          call.signal.addEventListener(
            'abort',
            () => {
              clearTimeout(timer);
              reject(call.signal.reason instanceof Error ? call.signal.reason : new Error('aborted'));
            },
            { once: true },
          );
        });
        continue;
      }
      yield step;
      this.onYield?.(++yielded);
    }
  }

  /** Lets every call stopped at a gate go on. */
  open(): void {
    for (const resolve of this.gates.splice(0)) resolve();
  }

  private notify(): void {
    for (const resolve of this.waiters.splice(0)) resolve();
  }
}
