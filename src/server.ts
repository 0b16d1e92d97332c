/**
 * Starts moongate: the store (SQLite under DATA_DIR, or PostgreSQL with DATABASE_URL),
 * the upstream provider, the gateway and the HTTP app.
 */
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { AccountService } from './accounts/account-service.js';
import { ApplicationStore } from './accounts/application-store.js';
import { authenticate } from './accounts/authenticate.js';
import { CredentialStore } from './accounts/credential-store.js';
import { SessionStore } from './accounts/session-store.js';
import { startBilling } from './billing/start-billing.js';
import type { Config } from './config.js';
import { ChatGateway } from './gateway/chat-gateway.js';
import { SingleProviderRouter } from './gateway/single-provider-router.js';
import { LOG_REDACTIONS, buildApp } from './http/app.js';
import { KeyedMutex } from './http/routes/account/keyed-mutex.js';
import { createProvider } from './providers/create-provider.js';
import type { Provider } from './providers/provider.js';
import { openStore, type Store } from './store/open-store.js';

export interface RunningServer {
  app: FastifyInstance;
  store: Store;
  /** e.g. http://127.0.0.1:8700 */
  url: string;
  close(): Promise<void>;
}

export interface StartOptions {
  /** A logger to use instead of pino on stdout (tests pass false to stay quiet). */
  logger?: Logger | false;
  /** A provider to use instead of the one the config names (tests). */
  provider?: Provider;
}

export async function startServer(config: Readonly<Config>, options: StartOptions = {}): Promise<RunningServer> {
  const logger =
    options.logger === undefined ? pino({ level: config.logLevel, redact: LOG_REDACTIONS }) : options.logger;
  const store = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
  const billing = await startBilling(store, { retentionDays: config.billing.usageRetentionDays, currency: config.billing.currency }, (error) => {
    if (logger !== false) logger.error({ err: error }, 'usage log pruning failed');
  }).catch(async (error: unknown) => {
    await store.close();
    throw error;
  });
  const provider = options.provider ?? createProvider(config.upstream);
  const gateway = new ChatGateway({
    admitter: billing.admitter,
    authenticate: (authorization, serviceSlug) => authenticate(authorization, serviceSlug, store),
    router: new SingleProviderRouter(provider),
  });
  const sessions = new SessionStore(store.db, config.sessionTtlMs);
  const accounts = {
    store,
    sessions,
    accounts: new AccountService({ db: store.db, dialect: store.dialect, sessions, registrationsPerHour: config.registrationsPerHour }),
    applications: new ApplicationStore(store.db, { freeQuota: config.billing.freeQuota }),
    credentials: new CredentialStore(store.db, { freeQuota: config.billing.freeQuota }),
    acquireLock: new KeyedMutex(),
    currency: config.billing.currency,
  };
  const app = buildApp({ gateway, maxBodyBytes: config.maxBodyBytes, logger, accounts, trustProxy: config.trustProxy });
  app.addHook('onClose', async () => {
    await provider.close?.();
    await billing.close();
    await store.close();
  });
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    await app.close();
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${port}`;
  return { app, store, url, close: () => app.close() };
}
