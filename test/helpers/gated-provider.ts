/**
 * A provider whose replies wait at a gate the test opens, so a test can have many
 * requests admitted and running at once; each reply reports fixed usage.
 */
import type { ChatEvent } from '../../src/contract/index.js';
import type { Provider, ProviderCall } from '../../src/providers/provider.js';

export class GatedProvider implements Provider {
  readonly kind = 'gated';
  calls = 0;
  #open!: () => void;
  readonly #gate = new Promise<void>((resolve) => (this.#open = resolve));

  constructor(private readonly completionTokens = 50) {}

  open(): void {
    this.#open();
  }

  async *chat(call: ProviderCall): AsyncIterable<ChatEvent> {
    this.calls += 1;
    await this.#gate;
    yield { type: 'delta', index: 0, content: 'Hello!' };
    yield { type: 'finish', index: 0, reason: 'stop' };
    yield { type: 'usage', promptTokens: call.promptTokens, completionTokens: this.completionTokens };
  }
}
