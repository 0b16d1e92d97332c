/**
 * The console API under /api/ (docs/console-api.md): JSON, the usual error envelope and
 * trace id, authenticated by the `moongate_session` cookie and guarded against CSRF by
 * console-guard.ts. Registered as one encapsulated plugin so the cookie parser and the
 * guard apply to these routes only, never to the chat API.
 */
import cookie from '@fastify/cookie';
import type { FastifyInstance } from 'fastify';
import type { AccountContext } from './account-context.js';
import { registerAcquireRoute } from './acquire-route.js';
import { registerAdminCodesRoute } from '../admin/admin-codes-route.js';
import { registerAdminCredentialsRoute } from '../admin/admin-credentials-route.js';
import { registerAdminPeopleRoute } from '../admin/admin-people-route.js';
import { registerAdminModelsRoute } from '../admin/admin-models-route.js';
import { registerAdminPricesRoute } from '../admin/admin-prices-route.js';
import { registerAdminUsageRoute } from '../admin/admin-usage-route.js';
import { registerBalanceRoute } from './balance-route.js';
import { consoleGuard } from './console-guard.js';
import { registerCredentialsRoute } from './credentials-route.js';
import { registerLoginRoute } from './login-route.js';
import { registerLogoutRoute } from './logout-route.js';
import { registerPasswordRoute } from './password-route.js';
import { registerPlaygroundTokenRoute } from './playground-token-route.js';
import { registerRedeemRoute } from './redeem-route.js';
import { registerRegisterRoute } from './register-route.js';
import { registerServicesRoute } from './services-route.js';
import { registerSessionRoute } from './session-route.js';
import { registerSessionsRoute } from './sessions-route.js';
import { registerUsageRoute } from './usage-route.js';

export const CONSOLE_API_PREFIX = '/api';

/**
 * The operator's routes (admin/), under the same cookie and guard. Their paths are kept out of
 * the known paths (http/app.ts): to anyone, a wrong method there is no_api, like an unknown
 * path, so the area does not show.
 */
export const ADMIN_API_PREFIX = `${CONSOLE_API_PREFIX}/admin/`;

export function registerConsoleApiRoutes(app: FastifyInstance, context: AccountContext): void {
  void app.register(
    async (api) => {
      await api.register(cookie);
      api.decorateRequest('consoleSession', null);
      api.addHook('preHandler', consoleGuard(context));
      registerRegisterRoute(api, context);
      registerLoginRoute(api, context);
      registerLogoutRoute(api, context);
      registerSessionRoute(api);
      registerSessionsRoute(api, context);
      registerPasswordRoute(api, context);
      registerServicesRoute(api, context);
      registerAcquireRoute(api, context);
      registerCredentialsRoute(api, context);
      registerPlaygroundTokenRoute(api, context);
      registerBalanceRoute(api, context);
      registerRedeemRoute(api, context);
      registerUsageRoute(api, context);
      registerAdminPeopleRoute(api, context);
      registerAdminCredentialsRoute(api, context);
      registerAdminPricesRoute(api, context);
      registerAdminModelsRoute(api, context);
      registerAdminUsageRoute(api, context);
      registerAdminCodesRoute(api, context);
    },
    { prefix: CONSOLE_API_PREFIX },
  );
}
