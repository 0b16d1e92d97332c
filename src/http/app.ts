/**
 * The Fastify app: one trace id per request (also the `x-trace-id` header on every
 * response), JSON bodies up to the configured limit, the routes, and one error handler.
 */
import { createServer } from 'node:http';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { BUILT_IN_LOOKUP, MoongateError, newTraceId, parseJsonBody, type ModelLookup } from '../contract/index.js';
import type { ChatGateway } from '../gateway/chat-gateway.js';
import { BodyGuard, installBodyGuard, type Schedule } from './body-guard.js';
import { answerClientError, installErrorHandler, sendError, toMoongateError, turnedAway } from './error-handler.js';
import type { AccountContext } from './routes/console-api/account-context.js';
import { ADMIN_API_PREFIX, registerConsoleApiRoutes } from './routes/console-api/console-api-routes.js';
import { CHAT_COMPLETIONS_PATHS, chatCompletionsRoute, type ChatRoute } from './routes/chat-completions-route.js';
import type { ReadinessCheck } from '../observability/readiness-check.js';
import { registerHealthRoute } from './routes/health-route.js';
import { registerConsoleRoute, type ConsoleNotFound } from './routes/console-route.js';
import { registerOpenApiRoute } from './routes/openapi-route.js';
import { registerHomeRoute } from './routes/home-route.js';
import { registerMetricsRoute } from './routes/metrics-route.js';
import { registerModelsRoute } from './routes/models-route.js';
import { registerMoonshotUtilityRoutes } from './routes/moonshot-utility-routes.js';
import type { InFlightRequests } from './in-flight-requests.js';
import type { Metrics } from '../observability/metrics.js';
import { AccessLog } from './access-log.js';
import { lazyRequestLogger } from './request-logger.js';
import { closeWithConnection } from './queued-responses.js';

export interface AppOptions {
  gateway: ChatGateway;
  maxBodyBytes: number;
  /** The process-wide cap on bytes of bodies still arriving, and their deadline (docs/security.md). */
  bodies?: { maxPendingBytes: number; timeoutMs: number };
  /** Timers of the body deadline and the lingering close (tests inject their own). */
  bodySchedule?: Schedule;
  logger: FastifyServerOptions['loggerInstance'] | false;
  /** Silence before a stream gets a `: keep-alive` comment (0: none). */
  keepAliveMs?: number;
  /** Requests being served, for graceful shutdown and the open-streams gauge. */
  inFlight?: InFlightRequests;
  /**
   * Null when every response's billing has committed; otherwise a promise of it (SQLite's
   * journaled settlement, billing/settlement-journal.ts). Every request but a chat completion
   * waits for it first, so what it reads (the usage log, a balance) has every response's billing.
   */
  settling?: () => Promise<void> | null;
  metrics?: Metrics;
  /** The operator's token for /metrics (METRICS_TOKEN); left out, /metrics answers 404 no_api. */
  metricsToken?: string;
  readiness?: readonly ReadinessCheck[];
  /** The console API under /api/; left out, the app serves the chat API alone. */
  accounts?: AccountContext;
  /** Believe X-Forwarded-* from a proxy in front (TRUST_PROXY). */
  trustProxy?: boolean;
  /** The built console (web/dist, see hasConsoleBuild); left out, `/` is the plain home page. */
  webRoot?: string;
  /** The model catalogue (src/catalogue); the built-in rows when left out. */
  models?: ModelLookup;
  /** The one line per request; give the one whose observer the gateway reports to, for the model and tokens. */
  accessLog?: AccessLog;
}

/** Defaults of `bodies` (config.ts has the same). */
export const DEFAULT_BODY_LIMITS = Object.freeze({ maxPendingBytes: 64 * 1024 * 1024, timeoutMs: 60_000 });

/**
 * How long, and for how many bytes, a connection answered before its body arrived stays
 * open to drain it (docs/security.md). Dropped bytes cost no memory; a client that streams
 * its body (undici with a stream body) keeps sending after the answer, and must still read it.
 */
export const LINGER_MS = 5_000;
export const LINGER_BYTES = 64 * 1024 * 1024;

/** Idle keep-alive connections close after this: Fastify's default, kept from before the server was made here. */
const KEEP_ALIVE_MS = 72_000;

export const LOG_REDACTIONS = ['req.headers.authorization', 'req.headers.cookie', '*.apiKey', '*.token', '*.password'];

export function buildApp(options: AppOptions): FastifyInstance {
  const bodies = options.bodies ?? DEFAULT_BODY_LIMITS;
  const bodyGuard = new BodyGuard({
    maxPendingBytes: Math.max(bodies.maxPendingBytes, options.maxBodyBytes),
    timeoutMs: bodies.timeoutMs,
    lingerBytes: Math.max(options.maxBodyBytes, LINGER_BYTES),
    lingerMs: LINGER_MS,
    ...(options.bodySchedule === undefined ? {} : { schedule: options.bodySchedule }),
  });
  // Node's own deadline for a whole request (head and body), checked every 30 s: a backstop
  // for bodies no route reads (a GET's), well after the body deadline and the lingering
  // close (body-guard.ts), which answer first wherever a body is read.
  const requestTimeout = bodies.timeoutMs + LINGER_MS + 30_000;
  // Made once the app (and its logger) is; the server's listener runs only after listen().
  let chatRoute: ChatRoute = () => false;
  const app = Fastify({
    ...(options.logger === false ? { logger: false } : { loggerInstance: options.logger }),
    bodyLimit: options.maxBodyBytes,
    requestTimeout,
    trustProxy: options.trustProxy ?? false,
    genReqId: newTraceId,
    // The trace id is always ours (a UUID v4); a client cannot choose it.
    requestIdHeader: false,
    // Every log line of a request carries its trace id under the name clients see.
    // One line per request (access-log.ts) instead of Fastify's "incoming" and "completed".
    logController: new LogController({ requestIdLogLabel: 'trace_id', disableRequestLogging: true }),
    // The request's logger is made on its first line; a served request writes none (request-logger.ts).
    childLoggerFactory: lazyRequestLogger,
    // Requests that arrive while we drain get our envelope (the hook below), not Fastify's 503.
    return503OnClosing: false,
    // Errors Fastify raises before routing (a malformed URL) still get our envelope and trace id.
    frameworkErrors: (error, request, reply) => {
      // Raised before the onRequest hook, which sets these two on every other answer.
      reply.header('x-trace-id', request.id).header('x-content-type-options', 'nosniff');
      void sendError(reply, toMoongateError(error), request.id);
    },
    // Requests Node's parser rejects (Fastify never sees them) also get the envelope (error-handler.ts).
    clientErrorHandler(this: FastifyInstance, error, socket) {
      answerClientError(error, socket, this.log);
    },
    // The chat route runs ahead of Fastify (routes/chat-completions-route.ts); the server is
    // made as Fastify makes it. Fastify binds no second address for a server it did not make:
    // HOST=localhost listens on the first address it resolves to (README, "Settings").
    serverFactory: (handler) => {
      // Node answers an HTTP/1.1 request without Host with a bare 400 of its own; the hook below
      // (and the chat route) answer it with the envelope instead (RFC 9112, section 3.2: a 400 either way).
      const server = createServer({ requireHostHeader: false }, (req, res) => {
        closeWithConnection(req, res);
        if (!chatRoute(req, res)) handler(req, res);
      });
      server.keepAliveTimeout = KEEP_ALIVE_MS;
      server.requestTimeout = requestTimeout;
      return server;
    },
  }) as unknown as FastifyInstance;
  const accessLog = options.accessLog ?? new AccessLog(app.log);
  chatRoute = chatCompletionsRoute({
    gateway: options.gateway,
    maxBodyBytes: options.maxBodyBytes,
    bodyGuard,
    accessLog,
    log: app.log,
    ...(options.keepAliveMs === undefined ? {} : { keepAliveMs: options.keepAliveMs }),
    ...(options.inFlight === undefined ? {} : { inFlight: options.inFlight }),
  });

  // One callback hook (no promise) on every request: the trace id, and nosniff because every
  // answer is JSON, an SSE stream or the console, none to be sniffed into HTML.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-trace-id', request.id).header('x-content-type-options', 'nosniff');
    accessLog.begin(request.id, request.method, request.url, reply.raw);
    // Answering here without calling done() ends the request (Fastify, "Respond to a request
    // from a hook"). /healthz still answers while draining.
    const refusal = turnedAway(request.raw, options.inFlight?.draining === true && request.url !== '/healthz');
    if (refusal !== undefined) {
      reply.header('connection', 'close');
      sendError(reply, refusal, request.id);
      return;
    }
    const settling = options.settling?.() ?? null;
    if (settling === null) done();
    // A commit that fails is retried (and spooled) by billing; this request need not wait for that.
    else settling.then(() => done(), () => done());
  });

  // Bodies are JSON whatever the content-type says: curl -d sends form encoding by default,
  // and the seed's clients always send JSON.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => {
    let value: unknown;
    try {
      value = parseJsonBody(body);
    } catch (error) {
      done(error as Error, undefined);
      return;
    }
    done(null, value);
  });

  installErrorHandler(app);
  installBodyGuard(app, bodyGuard);

  // The fixed paths of every route registered below, so that a wrong method on one is
  // api_not_implemented rather than no_api (SPEC.md). Parametric and wildcard paths stay
  // unknown, and so do the operator's (see ADMIN_API_PREFIX). /metrics is an API path even
  // where no registry was given.
  const knownPaths = new Set<string>(['/metrics', ...CHAT_COMPLETIONS_PATHS]);
  app.addHook('onRoute', (route) => {
    if (/[:*]/.test(route.url) || route.url.startsWith(ADMIN_API_PREFIX)) return;
    knownPaths.add(route.url);
  });
  let consoleNotFound: ConsoleNotFound | undefined;
  app.setNotFoundHandler((request, reply) => {
    if (consoleNotFound?.(request, reply) === true) return reply;
    const path = request.url.split('?', 1)[0] ?? '';
    const error = knownPaths.has(path)
      ? new MoongateError('api_not_implemented', `The API is not implemented: ${request.method} ${path}`)
      : new MoongateError('no_api', `No API at ${path}`);
    return sendError(reply, error, request.id);
  });

  const models = options.models ?? BUILT_IN_LOOKUP;
  registerModelsRoute(app, models);
  registerMoonshotUtilityRoutes(app, options.gateway, models, options.accounts === undefined ? undefined : { db: options.accounts.store.db });
  registerOpenApiRoute(app);
  registerHealthRoute(app, options.readiness, () => options.inFlight?.draining === true);
  if (options.metrics !== undefined) registerMetricsRoute(app, options.metrics, options.metricsToken);
  if (options.webRoot === undefined) registerHomeRoute(app, models);
  else consoleNotFound = registerConsoleRoute(app, options.webRoot);
  if (options.accounts !== undefined) registerConsoleApiRoutes(app, options.accounts);
  return app;
}
