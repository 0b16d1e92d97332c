/**
 * The simplest router: one provider serves every public model under its own name.
 * The channels work (weights, priorities, failover) replaces this with a real router.
 */
import type { KimiModel } from '../contract/index.js';
import type { Provider } from '../providers/provider.js';
import type { ChatRoute, ChatRouter } from './chat-gateway.js';

export class SingleProviderRouter implements ChatRouter {
  constructor(private readonly provider: Provider) {}

  route(model: KimiModel): ChatRoute {
    return { provider: this.provider, upstreamModel: model.id };
  }
}
