/**
 * The channel used when neither the config file nor the database declares one
 * (DESIGN.md: a fresh clone works with no other service): Moonshot when MOONSHOT_API_KEY
 * is set, else the built-in simulator, serving all seven models either way.
 */
import type { UpstreamConfig } from '../config.js';
import { channelSchema, toChannelSpec, type ChannelSpec } from './channel-config.js';

export function defaultChannel(upstream: UpstreamConfig): ChannelSpec {
  const parsed =
    upstream.kind === 'moonshot'
      ? channelSchema.parse({ name: 'moonshot', kind: 'moonshot', apiKey: upstream.apiKey, baseUrl: upstream.baseUrl })
      : channelSchema.parse({ name: 'simulator', kind: 'simulator', simulator: upstream.simulator });
  return toChannelSpec(parsed, 'default');
}
