/**
 * Builds the provider for a channel; the only place that knows every kind. It lives with
 * the channels, not the providers: a channel is configured to use a provider, and the
 * providers know nothing of channels.
 */
import { MoonshotProvider } from '../providers/moonshot/index.js';
import { OpenAICompatibleProvider } from '../providers/openai-compatible/index.js';
import type { Provider } from '../providers/provider.js';
import { SimulatorProvider } from '../providers/simulator/index.js';
import type { ChannelSpec } from './channel-config.js';
import { displayUrl } from './display-url.js';

/**
 * The provider behind one channel. Connect, header and body (idle) timeouts go to undici,
 * which enforces them on the socket; the first-token, idle and total timers on events
 * live in the router (gateway/timed-events.ts) and apply to every kind. A non-stream
 * request's headers get the total time: an upstream that ignores `stream` answers only once
 * the whole reply is generated.
 */
export function createChannelProvider(channel: ChannelSpec): Provider {
  const { timeouts } = channel;
  const transport = {
    connectTimeoutMs: timeouts.connectMs,
    headersTimeoutMs: timeouts.headersMs,
    bodyTimeoutMs: timeouts.idleMs,
    replyTimeoutMs: timeouts.totalMs,
    passthrough: channel.passthrough,
  };
  switch (channel.kind) {
    case 'simulator':
      return new SimulatorProvider(channel.simulator);
    case 'moonshot':
      return new MoonshotProvider({ ...transport, baseUrl: channel.baseUrl, apiKey: channel.apiKey });
    case 'openai-compatible':
      return new OpenAICompatibleProvider({
        ...transport,
        baseUrl: channel.baseUrl,
        ...(channel.apiKey === undefined ? {} : { apiKey: channel.apiKey }),
      });
  }
}

/** One line about a channel for start-up output; never its key. */
export function describeChannel(channel: ChannelSpec): string {
  const models = Object.keys(channel.models).length;
  const where =
    channel.kind === 'simulator'
      ? `the built-in simulator (ttft ${channel.simulator.ttftMs} ms, ${channel.simulator.tokensPerSecond} tokens/s)`
      : `${channel.kind} at ${displayUrl(channel.baseUrl)}`;
  return `${channel.name}: ${where}, ${models} model${models === 1 ? '' : 's'}, priority ${channel.priority}, weight ${channel.weight}`;
}
