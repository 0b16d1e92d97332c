/** Builds the provider for the configured upstream; the only place that knows every kind. */
import type { UpstreamConfig } from '../config.js';
import { MoonshotProvider } from './moonshot/index.js';
import type { Provider } from './provider.js';
import { SimulatorProvider } from './simulator/index.js';

export function createProvider(upstream: UpstreamConfig): Provider {
  switch (upstream.kind) {
    case 'simulator':
      return new SimulatorProvider(upstream.simulator);
    case 'moonshot':
      return new MoonshotProvider({ baseUrl: upstream.baseUrl, apiKey: upstream.apiKey });
  }
}

export function describeUpstream(upstream: UpstreamConfig): string {
  return upstream.kind === 'simulator'
    ? `the built-in simulator (ttft ${upstream.simulator.ttftMs} ms, ${upstream.simulator.tokensPerSecond} tokens/s)`
    : `Moonshot at ${upstream.baseUrl}`;
}
