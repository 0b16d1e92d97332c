/**
 * A provider that plays a script of events (or failures) and records the calls it got,
 * for gateway tests that need an upstream to misbehave in a precise way.
 */
import type { ChatEvent } from '../../src/contract/index.js';
import type { Provider, ProviderCall } from '../../src/providers/provider.js';

export type ScriptStep = ChatEvent | { type: 'throw'; error: Error } | { type: 'wait'; ms: number };

export class ScriptedProvider implements Provider {
  readonly kind = 'scripted';
  readonly calls: ProviderCall[] = [];
  readonly aborted: ProviderCall[] = [];

  constructor(private readonly script: ScriptStep[]) {}

  async *chat(call: ProviderCall): AsyncIterable<ChatEvent> {
    this.calls.push(call);
    call.signal.addEventListener('abort', () => this.aborted.push(call), { once: true });
    for (const step of this.script) {
      if (step.type === 'throw') throw step.error;
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
    }
  }
}
