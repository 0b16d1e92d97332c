/**
 * The simplest router: one provider serves every public model under its own name.
 * The channels work (weights, priorities, failover) replaces this with a real router.
 */
import type { Provider } from '../providers/provider.js';
import type { ChatRouter, OpenedCall, RouteCall } from './chat-gateway.js';

export class SingleProviderRouter implements ChatRouter {
  constructor(
    private readonly provider: Provider,
    private readonly channel = provider.kind,
  ) {}

  async open(call: RouteCall): Promise<OpenedCall> {
    const events = this.provider.chat({ ...call, upstreamModel: call.model.id })[Symbol.asyncIterator]();
    const first = await events.next();
    return { channel: this.channel, first, events };
  }
}
