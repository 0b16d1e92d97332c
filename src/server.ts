/**
 * Starts moongate: the store (SQLite under DATA_DIR, or PostgreSQL with DATABASE_URL),
 * billing (prices, holds, settlement, limits, usage log), the channels and their router,
 * the gateway, metrics and the HTTP app.
 */
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { pino, type Logger } from 'pino';
import { AccountService } from './accounts/account-service.js';
import { ApplicationStore } from './accounts/application-store.js';
import { authenticate, type CredentialAuthRow } from './accounts/authenticate.js';
import { CredentialCache } from './accounts/credential-cache.js';
import { CredentialStore } from './accounts/credential-store.js';
import { PlaygroundTokenStore } from './accounts/playground-token-store.js';
import { SessionStore } from './accounts/session-store.js';
import { SetupLink } from './accounts/setup-link.js';
import { LoginThrottle } from './limits/login-throttle.js';
import { DEFAULT_REDEEM_THROTTLE, RedeemThrottle } from './limits/redeem-throttle.js';
import { RedisLoginCounter } from './limits/redis-login-counter.js';
import { REGISTRATION_WINDOW_MS, RegistrationThrottle } from './limits/registration-throttle.js';
import { startBilling, type RunningBilling } from './billing/start-billing.js';
import { TopupCodeStore } from './billing/topup-code-store.js';
import type { ChannelSpec } from './channels/channel-config.js';
import { ChannelStore } from './channels/channel-store.js';
import { defaultChannel } from './channels/default-channel.js';
import type { Config } from './config.js';
import { MoongateError } from './contract/index.js';
import { ChatGateway } from './gateway/chat-gateway.js';
import type { Admitter } from './gateway/pipeline.js';
import { ChannelRouter, type RouterChannel } from './gateway/channel-router.js';
import { LOG_REDACTIONS, buildApp } from './http/app.js';
import { InFlightRequests } from './http/in-flight-requests.js';
import { AccessLog } from './http/access-log.js';
import { Metrics } from './observability/metrics.js';
import { createChannelProvider } from './channels/create-channel-provider.js';
import { MemoryRequestLimiter } from './limits/memory-request-limiter.js';
import { HostPolicy } from './http/routes/console-api/host-policy.js';
import { DEFAULT_WEB_ROOT, hasConsoleBuild } from './http/routes/console-route.js';
import type { Provider } from './providers/provider.js';
import { openStore, type Store } from './store/open-store.js';
import { RedisChannelRests } from './limits/channel-rests.js';
import { RedisWindowCounter } from './limits/redis-window-counter.js';
import { startRedisLimits, type RedisLimits } from './limits/start-redis-limits.js';
import { LocalChangeBus, type ChangeBus } from './limits/change-bus.js';
import { ModelCatalogue } from './catalogue/model-catalogue.js';
import { prepareTokenCounting } from './tokens/count-tokens.js';

export interface RunningServer {
  app: FastifyInstance;
  store: Store;
  router: ChannelRouter;
  metrics: Metrics;
  /** Cache invalidation: in-process alone, every replica's with REDIS_URL (limits/change-bus.ts). */
  changes: ChangeBus;
  /** The model catalogue in memory, kept fresh from the store and the bus (docs/models.md). */
  catalogue: ModelCatalogue;
  /** The channels in service (never print their keys). */
  channels: readonly ChannelSpec[];
  /** e.g. http://127.0.0.1:8700 */
  url: string;
  /**
   * The one-time setup link (accounts/setup-link.ts) when the store had no active operator
   * at start; print it once, beside the console's address. Undefined otherwise.
   */
  setupUrl: string | undefined;
  /** Whether `/` is the web console (false: web/dist was not built, `/` is a plain page). */
  consoleServed: boolean;
  close(): Promise<void>;
  /**
   * Graceful stop: refuse new requests, let running ones finish for up to `drainMs`
   * (default: the config's drainMs), abort the rest and cut the connections of those whose
   * client stopped reading (they settle as aborted), wait until every request has settled,
   * then close billing and the store.
   */
  shutdown(drainMs?: number): Promise<void>;
}

export interface StartOptions {
  /** A logger to use instead of pino on stdout (tests pass false to stay quiet). */
  logger?: Logger | false;
  /** One provider serving every model as channel `provider.kind`, instead of the configured channels (tests). */
  provider?: Provider;
  /** The quota hold and settlement to use instead of billing's (tests of the pipeline alone). */
  admitter?: Admitter;
  /** Read for `${VAR}` keys of channels stored in the database; process.env by default. */
  env?: NodeJS.ProcessEnv;
  /** The built console to serve at `/` (default web/dist); false for the plain home page. */
  webRoot?: string | false;
  /** The router's clock (breaker cool-downs, 429 cool-offs, the retry budget) and the credential cache's; Date.now by default (tests). */
  now?: () => number;
}

/** Log lines are written to stdout in pieces of at least this many bytes... */
export const LOG_WRITE_BYTES = 4096;
/** ...or this often, whichever comes first (docs/operations.md, "Logs"). */
export const LOG_FLUSH_MS = 250;

/**
 * stdout, written in pieces of LOG_WRITE_BYTES or every LOG_FLUSH_MS: one write per line cost
 * a request served alone about 8% of its CPU (issue 20). pino writes what is waiting when the
 * process exits (a signal's shutdown, process.exit, a crash that reaches the exit handlers);
 * a SIGKILL loses at most the last LOG_FLUSH_MS of lines.
 */
function logDestination(): pino.DestinationStream {
  return pino.destination({ dest: 1, minLength: LOG_WRITE_BYTES, periodicFlush: LOG_FLUSH_MS });
}

export async function startServer(config: Readonly<Config>, options: StartOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? pino({ level: config.logLevel, redact: LOG_REDACTIONS }, logDestination());
  const store = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
  let channels: RouterChannel[];
  let billing: RunningBilling;
  let changes: ChangeBus;
  let catalogue: ModelCatalogue;
  const metrics = new Metrics();
  // With REDIS_URL the limits are every replica's (docs/scaling.md); money stays in the store.
  let redis: RedisLimits | undefined;
  let opened: ModelCatalogue | undefined;
  try {
    channels = await resolveChannels(config, store, options);
    if (config.redis !== undefined) redis = await startRedisLimits(config.redis, logger === false ? undefined : logger, metrics);
    // With REDIS_URL a change (a credential revoked, a model edited) reaches every replica's caches.
    changes = redis?.changes ?? new LocalChangeBus();
    // The model catalogue: in memory, reloaded on a bus message and when its version moves (polled every second).
    catalogue = opened = await ModelCatalogue.open(store.db, {
      changes,
      onError: (error) => {
        if (logger !== false) logger.warn({ err: error }, 'reading the model catalogue failed; the rows in memory stay in use');
      },
    });
    billing = await startBilling(
      store,
      {
        retentionDays: config.billing.usageRetentionDays,
        spoolPath: config.billing.settlementSpool,
        instanceLeaseMs: config.billing.instanceLeaseMs,
        onSettlementTrouble: ({ kind, error, pending }) => {
          if (logger === false) return;
          const message = {
            deferred: 'the store refused settlements: spooled, retrying until they land',
            retry: 'retrying settlements failed: still spooled, retrying later',
            spool: 'writing the settlement spool failed: settlements kept in memory, retrying',
            journal: 'writing the settlement journal failed: responses wait for their commit meanwhile',
          }[kind];
          logger.warn({ err: error, pending }, message);
        },
        onHoldsTrouble: ({ instanceId, lastBeatAt }) => {
          if (logger !== false) {
            logger.error(
              { instance: instanceId, last_beat_at: lastBeatAt },
              "another replica took this one for dead and gave back its holds while their requests may still run; registered again (docs/billing.md, 'Crashes')",
            );
          }
        },
      },
      (error) => {
        if (logger !== false) logger.error({ err: error }, 'usage log pruning failed');
      },
    );
    const replayed = billing.replayedAtStart;
    if (logger !== false && replayed.found + replayed.unreadable > 0) {
      logger.warn(replayed, 'settlement spool and journal replayed at start-up (a settlement already billed is found, not billed again)');
    }
  } catch (error) {
    opened?.close();
    redis?.limiter.close();
    await redis?.close();
    await store.close();
    throw error;
  }
  const { routing, keepAliveMs, drainMs } = config.channelsFile;
  const router = new ChannelRouter(channels, routing, {
    logger: logger === false ? undefined : logger,
    onAttempt: metrics.attempt,
    ...(options.now === undefined ? {} : { now: options.now }),
    ...(redis === undefined ? {} : { rests: await sharedChannelRests(redis, config, logger === false ? undefined : logger, options.now) }),
  });
  metrics.registerChannels(() => router.snapshot());
  const inFlight = new InFlightRequests();
  metrics.registerInFlightStreams(() => inFlight.streams);
  metrics.registerHoldTotals(() => billing.admitter.openHolds());
  metrics.registerSettlements(() => ({ pending: billing.settlements.pending, failures: billing.settlements.failures }));

  // With REDIS_URL the limits are every replica's (docs/scaling.md); otherwise this process's.
  const limiter = redis?.limiter ?? new MemoryRequestLimiter();
  // One info line per request, with the model and tokens the gateway reports (http/access-log.ts).
  const accessLog = new AccessLog(logger === false ? undefined : logger);
  // A token seen in the last second skips its query; the bus drops changed ones at once (accounts/credential-cache.ts).
  const credentials = new CredentialCache<CredentialAuthRow>(options.now === undefined ? {} : { now: options.now });
  credentials.listen(changes);
  const gateway = new ChatGateway({
    models: catalogue,
    authenticate: (authorization, serviceSlug) => authenticate(authorization, serviceSlug, store, Date.now(), credentials),
    limiter,
    defaultPersonLimits: { rps: config.personLimits.rps, concurrency: config.personLimits.concurrency },
    router,
    admitter: options.admitter ?? billing.admitter,
    observers: [metrics.observer],
  });
  const sessions = new SessionStore(store.db, config.sessionTtlMs, config.sessionsPerPerson);
  const setup = await SetupLink.issue(store.db);
  const accounts = {
    store,
    sessions,
    accounts: new AccountService({
      db: store.db,
      dialect: store.dialect,
      sessions,
      // With REDIS_URL the login and registration counts are every replica's (docs/scaling.md).
      throttle: new LoginThrottle({}, redis && new RedisLoginCounter(redis.client, { keyPrefix: config.redis?.keyPrefix })),
      registrations: new RegistrationThrottle(
        config.registrationsPerHour,
        redis && new RedisWindowCounter(redis.client, { name: 'registrations', windowMs: REGISTRATION_WINDOW_MS, keyPrefix: config.redis?.keyPrefix }),
      ),
      setup: setup?.link,
    }),
    applications: new ApplicationStore(store.db, { freeQuota: config.billing.freeQuota }),
    credentials: new CredentialStore(store.db, { freeQuota: config.billing.freeQuota }),
    playgroundTokens: new PlaygroundTokenStore(store.db),
    topupCodes: new TopupCodeStore(store.db),
    redeemThrottle: new RedeemThrottle(
      DEFAULT_REDEEM_THROTTLE,
      redis && new RedisWindowCounter(redis.client, { name: 'redeem', windowMs: DEFAULT_REDEEM_THROTTLE.windowMs, keyPrefix: config.redis?.keyPrefix }),
    ),
    prices: billing.prices,
    changes,
    models: catalogue,
    hosts: new HostPolicy(config.publicUrl),
    personLimits: config.personLimits,
    currency: config.billing.currency,
  };
  const webRoot = options.webRoot ?? DEFAULT_WEB_ROOT;
  const consoleServed = webRoot !== false && hasConsoleBuild(webRoot);
  const app = buildApp({
    gateway,
    maxBodyBytes: config.maxBodyBytes,
    bodies: config.bodies,
    logger,
    keepAliveMs,
    inFlight,
    settling: () => billing.settlements.landing(),
    metrics,
    accessLog,
    ...(config.metricsToken === undefined ? {} : { metricsToken: config.metricsToken }),
        readiness: [
      { name: 'the store', check: async () => void (await sql`select 1`.execute(store.db)) },
      {
        name: 'settlement',
        // Not ready while billing waits for the store: a load balancer sends the traffic elsewhere.
        check: () => {
          const pending = billing.settlements.pending;
          if (pending === 0) return Promise.resolve();
          return Promise.reject(new MoongateError('api_error', `not ready: ${pending} settlement${pending === 1 ? '' : 's'} waiting for the store`));
        },
      },
      ...(redis === undefined ? [] : [redis.readiness]),
    ],
    accounts,
    trustProxy: config.trustProxy,
    models: catalogue,
    ...(consoleServed ? { webRoot } : {}),
  });
  // Past a shutdown's drain limit, connections whose client stopped reading are cut (shutdown below).
  inFlight.watch(app.server);
  app.addHook('onClose', async () => {
    // Every connection is closed by now, not every request: a stream cut past the drain limit
    // settles a moment after its socket closed, and a non-stream call whose client left runs to
    // its end. A settlement that came after billing closed would reach only the spool, its hold
    // already given back; so billing and the store close once every request has ended and
    // settled. shutdown() aborts what outlives its drain limit; a plain close() has no drain,
    // and what still runs here has no client left to answer: it is aborted (and settles).
    if (!inFlight.draining) inFlight.abortAll(new Error('the server is closing'));
    await inFlight.idle();
    catalogue.close();
    limiter.close();
    await router.close();
    // After the drain: settlements still batched are committed, this process's holds given back.
    // A store that is already gone must not stop the close (holds are released at the next start).
    await billing.close().catch((error: unknown) => {
      if (logger !== false) logger.error({ err: error }, 'closing billing failed');
    });
    await store.close();
    await redis?.close();
  });
  // Built here, not at the first request (nor by the CLI's other commands, which never count).
  prepareTokenCounting();
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

  const shutdown = async (drainLimitMs: number = drainMs): Promise<void> => {
    inFlight.draining = true;
    let past = false;
    // Past the drain limit the requests still running are aborted, and settle as aborted.
    const cut = setTimeout(() => {
      past = true;
      if (inFlight.count > 0 && logger !== false) logger.warn({ requests: inFlight.count }, 'drain limit reached, aborting');
      inFlight.abortAll(new Error('the server is shutting down'));
      // Aborting stops the upstream, not a response waiting for 'drain' from a client that stopped
      // reading (and never leaves): its connection is cut, so the request ends and settles.
      inFlight.cutStalled();
      // Once every request has ended and settled, no connection is waited for any longer: one
      // still flushing an aborted stream, or one whose request was aborted before it had an answer.
      void inFlight.idle().then(() => app.server.closeAllConnections());
    }, drainLimitMs);
    // Node closes the connections that are idle when closing starts; one whose response
    // ends later would otherwise linger for its keep-alive timeout (5 s), so they are swept.
    // Past the limit, so are the ones whose client stopped reading since.
    const sweep = setInterval(() => {
      app.server.closeIdleConnections();
      if (past) inFlight.cutStalled();
    }, 50);
    try {
      // Stops accepting connections and waits for the open ones; then its onClose hook waits
      // for every request to end and settle, and only then closes billing, then the store.
      await app.close();
    } finally {
      clearTimeout(cut);
      clearInterval(sweep);
    }
  };
  return {
    app,
    store,
    router,
    metrics,
    changes,
    catalogue,
    channels: channels.map((c) => c.spec),
    url,
    setupUrl: setup === undefined ? undefined : `${config.publicUrl ?? url}/register#setup=${setup.token}`,
    consoleServed,
    close: () => app.close(),
    shutdown,
  };
}

/** How long start-up waits for the channel-rests subscription before going on without it. */
const SUBSCRIBE_WAIT_MS = 2_000;

/**
 * With Redis, a channel's rest after a 429 is every replica's (docs/scaling.md). Start-up
 * waits a moment for the subscription, so a replica that says it listens also hears; a
 * Redis that is down does not stop the start: the subscription is made when it answers,
 * and until then this replica rests channels on its own 429s.
 */
async function sharedChannelRests(
  redis: RedisLimits,
  config: Readonly<Config>,
  logger: Logger | undefined,
  now: (() => number) | undefined,
): Promise<RedisChannelRests> {
  const rests = new RedisChannelRests(redis.client, {
    keyPrefix: config.redis?.keyPrefix,
    ...(now === undefined ? {} : { now }),
    onHeard: (channel, ms) => logger?.info({ channel, rest_ms: ms }, 'another replica saw a 429: the channel rests here too'),
    onError: (error) => logger?.debug({ err: error }, 'channel rest announcement failed'),
  });
  let timer: NodeJS.Timeout | undefined;
  const subscribed = rests.ready().then(
    () => true,
    (error: unknown) => {
      logger?.debug({ err: error }, 'channel rests subscription failed; retried on reconnect');
      return false;
    },
  );
  const waited = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), SUBSCRIBE_WAIT_MS)));
  await Promise.race([subscribed, waited]);
  clearTimeout(timer);
  return rests;
}

/**
 * The config file's channels plus the database's (names unique across both); with
 * neither, the default channel (Moonshot with MOONSHOT_API_KEY, else the simulator).
 */
async function resolveChannels(config: Readonly<Config>, store: Store, options: StartOptions): Promise<RouterChannel[]> {
  if (options.provider !== undefined) {
    const spec: ChannelSpec = { ...defaultChannel(config.upstream), name: options.provider.kind };
    return [{ spec, provider: options.provider }];
  }
  const fromFile = config.channelsFile.channels;
  const fromDb = await new ChannelStore(store.db).activeSpecs(options.env ?? process.env);
  const names = new Set(fromFile.map((c) => c.name));
  for (const channel of fromDb) {
    if (names.has(channel.name)) {
      throw new Error(`channel ${channel.name} is declared both in the config file and in the database; rename or disable one`);
    }
  }
  const specs = [...fromFile, ...fromDb];
  if (specs.length === 0) specs.push(defaultChannel(config.upstream));
  return specs.map((spec) => ({ spec, provider: createChannelProvider(spec) }));
}
