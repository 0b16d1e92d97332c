/**
 * POST /kimi/chat/completions (the seed's path) and POST /v1/chat/completions
 * (so every OpenAI SDK works with baseURL=<server>/v1).
 *
 * This route runs on node:http, ahead of Fastify (issue 20): the server's request listener
 * (app.ts) hands it every POST to these two paths, and everything else to Fastify. Fastify's
 * request lifecycle (routing, request and reply objects, hooks, body reading) cost 5 to 6%
 * of a non-stream request's CPU (docs/benchmark.md, "Where the time goes"). The route keeps
 * every answer the app gives: the trace id and nosniff, the access line, the Host and
 * draining checks, the body guard (body-guard.ts) and size limit, Fastify's content-type
 * and content-length checks, and the error handler's envelope and logging
 * (error-handler.ts).
 *
 * A stream whose first event takes longer than keepAliveMs (a long prefill, or failover
 * across slow channels) is committed early: 200 and the SSE headers go out with a
 * `: keep-alive` comment, so proxies keep the connection. The router may still fail over,
 * since no data chunk was sent; a failure before the first chunk then arrives in-band
 * (SPEC.md's last event and [DONE]) instead of as an HTTP status (docs/channels.md).
 *
 * Cheap checks first (docs/security.md, "Order of checks"): the credential and the rate and
 * concurrency permit are checked before the body is read, so a caller without a valid
 * credential, or over its limits, is answered without its body being read or parsed. The
 * permit is held until the request's work is over.
 *
 * A client that leaves a stream aborts it (the upstream call is cut; what was generated is
 * billed). A non-stream request runs to its end even when its client leaves: its upstream
 * answers in one piece, so cutting it would show nothing of what was generated, while the
 * upstream bills the operator for it; the whole reply is billed from the upstream's usage,
 * and the caller's concurrency permit stays taken until then (docs/billing.md, "Early ends").
 */
import type { FastifyBaseLogger } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { CallAbort, MoongateError, asMoongateError, errorEnvelope, newTraceId, parseJsonBody } from '../../contract/index.js';
import type { ChatGateway } from '../../gateway/chat-gateway.js';
import type { CallerPass, ChatAnswer, RequestRecord } from '../../gateway/pipeline.js';
import { KIMI_SERVICE } from '../../store/seed-services.js';
import type { AccessEntry, AccessLog } from '../access-log.js';
import { hasBody, type BodyGuard } from '../body-guard.js';
import { failureOf, retryAfterOf, turnedAway } from '../error-handler.js';
import type { InFlightRequests } from '../in-flight-requests.js';
import { LazyRequestLogger } from '../request-logger.js';
import { SseSink } from '../sse-sink.js';
import { PermitHolders } from './caller-passes.js';

export const CHAT_COMPLETIONS_PATHS = ['/kimi/chat/completions', '/v1/chat/completions'] as const;

export interface ChatRouteOptions {
  gateway: ChatGateway;
  maxBodyBytes: number;
  bodyGuard: BodyGuard;
  accessLog: AccessLog;
  /** The app's logger: a request's warnings and errors go to a child of it with the trace id. */
  log: FastifyBaseLogger;
  /** Silence before a `: keep-alive` comment; 0 turns keep-alives off. */
  keepAliveMs?: number;
  inFlight?: InFlightRequests;
}

/** Takes the request (true) if it is a POST to one of CHAT_COMPLETIONS_PATHS; the rest go to Fastify. */
export type ChatRoute = (req: IncomingMessage, res: ServerResponse) => boolean;

/** RFC 9110's media type, `type/subtype` then parameters; what Fastify refuses before reading a body. */
const MEDIA_TYPE = /^\s*[\w!#$%&'*+.^`|~-]+\/[\w!#$%&'*+.^`|~-]+\s*(?:;|$)/;

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * The path as Fastify's router read it: without the query or a fragment, from an absolute-form
 * target too (`http://host/v1/...`, what a proxy may send), and percent-decoded, but for an
 * escaped slash, which stays part of its segment.
 */
function isChatPath(url: string): boolean {
  let path = url;
  const query = path.indexOf('?');
  if (query >= 0) path = path.slice(0, query);
  const fragment = path.indexOf('#');
  if (fragment >= 0) path = path.slice(0, fragment);
  if (path === CHAT_COMPLETIONS_PATHS[0] || path === CHAT_COMPLETIONS_PATHS[1]) return true;
  // The rare spellings: the common request never gets here.
  if (!path.startsWith('/')) {
    if (!/^https?:\/\//i.test(path)) return false;
    const slash = path.indexOf('/', path.indexOf('//') + 2);
    path = slash < 0 ? '/' : path.slice(slash);
  }
  if (path.includes('%')) {
    if (/%2f/i.test(path)) return false;
    try {
      path = decodeURIComponent(path);
    } catch {
      return false;
    }
  }
  return path === CHAT_COMPLETIONS_PATHS[0] || path === CHAT_COMPLETIONS_PATHS[1];
}

function wantsStream(body: unknown): boolean {
  return typeof body === 'object' && body !== null && (body as { stream?: unknown }).stream === true;
}

/**
 * A body refused or not read: `close` when its answer closes the connection (as Fastify's does
 * after a body it could not read: bytes may follow that cannot be read as a request).
 */
class BodyError extends Error {
  constructor(
    readonly failure: unknown,
    readonly close = true,
  ) {
    super('the request body could not be read');
  }
}

export function chatCompletionsRoute(options: ChatRouteOptions): ChatRoute {
  const { gateway, maxBodyBytes, bodyGuard, accessLog, inFlight } = options;
  const keepAliveMs = options.keepAliveMs ?? 0;

  /** The body, read whole within the size limit and parsed; undefined when there is none. */
  const readBody = (req: IncomingMessage, res: ServerResponse): Promise<unknown> => {
    const { headers } = req;
    const type = headers['content-type'];
    if (type === undefined && !hasBody(req)) return Promise.resolve(undefined);
    // Refused from here on, a body still arriving is drained before the connection closes.
    bodyGuard.touch(req);
    if (type !== undefined && !MEDIA_TYPE.test(type)) {
      // Refused before its body is read, as Fastify does: the connection stays unless the body is still arriving.
      const failure = new MoongateError('bad_request', 'the content-type header is not a valid media type; send application/json');
      return Promise.reject(new BodyError(failure, false));
    }
    const declared = Number(headers['content-length']);
    if (declared > maxBodyBytes) return Promise.reject(new BodyError(tooLarge()));
    return new Promise((resolve, reject) => {
      bodyGuard.open(req, res, req, (payload: Readable) => {
        const chunks: Buffer[] = [];
        let received = 0;
        const finish = (): void => {
          if (!Number.isNaN(declared) && received !== declared) {
            reject(new BodyError(new MoongateError('bad_request', 'Request body size did not match Content-Length')));
            return;
          }
          try {
            resolve(parseJsonBody(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, received)));
          } catch (error) {
            // Read whole, to the end its framing gave: what follows on the connection is the next
            // request, so it stays open. (Fastify closes after any body its parser refused, which
            // also reset connections with pipelined requests behind the refused one: closing with
            // their bytes unread sends a reset, and the client can lose the answers before it.)
            reject(new BodyError(error, false));
          }
        };
        // The whole body is in the request's buffer already (the usual case: BodyGuard.open):
        // taken as it is, with no listener, no flowing and no 'end' a tick later.
        if (payload === req && req.complete && !req.destroyed && req.readableFlowing === null) {
          const whole = req.read() as Buffer | null;
          if (whole !== null) {
            chunks.push(whole);
            received = whole.length;
          }
          if (received > maxBodyBytes) reject(new BodyError(tooLarge()));
          else finish();
          return;
        }
        const stop = (): void => {
          payload.removeListener('data', onData);
          payload.removeListener('end', onEnd);
          payload.removeListener('error', onError);
          req.removeListener('close', onClose);
        };
        const onData = (chunk: Buffer): void => {
          received += chunk.length;
          if (received > maxBodyBytes) {
            stop();
            reject(new BodyError(tooLarge()));
            return;
          }
          chunks.push(chunk);
        };
        const onEnd = (): void => {
          stop();
          finish();
        };
        const onError = (error: unknown): void => {
          stop();
          reject(new BodyError(error));
        };
        // The client left before its body was read: Node destroys a request whose connection
        // closes, even one whose bytes all arrived, and a destroyed stream ends no more.
        const onClose = (): void => {
          if (req.readableEnded) return;
          stop();
          reject(new BodyError(Object.assign(new Error('aborted'), { code: 'ECONNRESET' })));
        };
        payload.on('data', onData);
        payload.on('end', onEnd);
        payload.on('error', onError);
        req.on('close', onClose);
        if (req.destroyed) onClose();
        else payload.resume();
      });
    });
  };

  const serve = async (call: ChatCall): Promise<void> => {
    const { req, res } = call;
    // Answered as the app's onRequest hook answers them (error-handler.ts): no log line but the access line.
    const refusal = turnedAway(req, inFlight?.draining === true);
    if (refusal !== undefined) {
      call.refuse(refusal, true);
      return;
    }

    let pass: CallerPass;
    try {
      pass = await gateway.admitCaller(req.headers.authorization, KIMI_SERVICE.slug, call.traceId, call.observe);
    } catch (error) {
      call.fail(error);
      return;
    }
    // The permit comes back once the connection has closed and the work is over, whichever is
    // later: a non-stream call outlives its client, and a connection gone while its body was
    // read gives it back whatever became of the read.
    const holders = call.hold(pass);
    let body: unknown;
    try {
      body = await readBody(req, res);
    } catch (error) {
      if (error instanceof BodyError) call.fail(error.failure, error.close);
      else call.fail(error, true);
      return;
    }
    // Gone before its work began: nothing reached an upstream, so nothing is owed or billed.
    if (res.destroyed) {
      call.log.info('the client closed the connection before the response');
      return;
    }
    const kept = holders.keep();
    try {
      await exchange(call, pass, body);
    } finally {
      if (kept) holders.drop();
    }
  };

  const exchange = async (call: ChatCall, pass: CallerPass, body: unknown): Promise<void> => {
    const { res, traceId, log } = call;
    const stream = wantsStream(body);
    // One abort per request: a shutdown aborts it, and so does a stream's client that leaves
    // (ChatCall's close listener).
    const controller = call.begin(stream);
    const tracked = inFlight?.add(controller);

    let sink: SseSink | undefined;
    const commit = (): SseSink => {
      if (sink !== undefined) return sink;
      writeSseHead(res);
      tracked?.markStream();
      sink = new SseSink(res, keepAliveMs);
      return sink;
    };
    const early =
      keepAliveMs > 0 && stream
        ? setTimeout(() => {
            if (!res.destroyed) commit().ping();
          }, keepAliveMs)
        : undefined;

    try {
      let outcome: ChatAnswer;
      try {
        outcome = await gateway.handle({ traceId, pass, body, signal: controller.signal, clientGone: call.clientGone, observe: call.observe });
      } catch (error) {
        clearTimeout(early);
        if (controller.signal.aborted) {
          // The client left before the answer: not an error of ours, and nobody to answer.
          log.info('the client closed the connection before the response');
          if (sink !== undefined) res.end();
          return;
        }
        if (sink === undefined) {
          call.fail(error);
          return;
        }
        // Committed early: the status is already 200, so the error goes in-band.
        const failure = asMoongateError(error);
        logFailure(log, failure, 'request failed after the stream was committed');
        await sink.send(JSON.stringify(errorEnvelope(failure, traceId)));
        await sink.done();
        return;
      }
      clearTimeout(early);

      if (outcome.kind === 'json') {
        if (call.gone) {
          // Answered and billed, but nobody is left to read it.
          log.info('the client closed the connection before the response');
          return;
        }
        const text = JSON.stringify(outcome.body);
        res.writeHead(200, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(text) });
        res.end(text);
        return;
      }

      try {
        await outcome.pipe(commit());
      } catch (error) {
        // The client already got the error in-band; this is for the operator.
        logFailure(log, error, 'stream failed after it started');
      } finally {
        if (!res.writableEnded) res.end();
      }
    } finally {
      clearTimeout(early);
      call.end();
      tracked?.end();
    }
  };

  return (req, res) => {
    if (req.method !== 'POST' || !isChatPath(req.url ?? '')) return false;
    serve(new ChatCall(req, res, accessLog, bodyGuard, options.log)).catch((error: unknown) => {
      // Nothing above throws; should it, the request still ends, and the operator hears of it.
      options.log.error({ err: error }, 'the chat route failed');
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
    return true;
  };
}

/**
 * One chat request on its connection: its trace id, its logger, its access line, its
 * caller's permit and whether its client left, all followed by one listener on the
 * response's close (issue 20: a listener, a closure and an event wrapper each for the access
 * line, the permit and the client's leaving cost every request its share of node:events).
 */
class ChatCall {
  readonly traceId = newTraceId();
  readonly log: LazyRequestLogger;
  /** The client left before its answer was complete. */
  gone = false;
  /** Who keeps the caller's permit: the connection until it closes, and the work while it runs. */
  #holders: PermitHolders | undefined;
  readonly #entry: AccessEntry | undefined;
  /** While the exchange runs: the request's abort, and whether the client leaving aborts it (a stream). */
  #controller: CallAbort | undefined;
  #stream = false;
  /**
   * When the response closed while the exchange still ran (a client that left): the access
   * line waits for the exchange's end, so that it carries what the gateway reported by then
   * (the model, the tokens billed), and its duration is still the response's.
   */
  #closedAt: number | undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    private readonly accessLog: AccessLog,
    private readonly bodyGuard: BodyGuard,
    parentLog: FastifyBaseLogger,
  ) {
    res.setHeader('x-trace-id', this.traceId);
    res.setHeader('x-content-type-options', 'nosniff');
    this.#entry = accessLog.open(this.traceId);
    this.log = new LazyRequestLogger(parentLog, { trace_id: this.traceId }, {});
    res.once('close', this.#onClose);
  }

  readonly clientGone = (): boolean => this.gone;

  /** What the gateway reports of the request, for its access line (the model, the tokens, the code). */
  readonly observe = (record: RequestRecord): void => {
    if (this.#entry !== undefined) this.#entry.record = record;
  };

  /** The caller's permit, kept by the connection until it closes (at once, if it already has). */
  hold(pass: CallerPass): PermitHolders {
    const holders = new PermitHolders(pass);
    this.#holders = holders;
    // Node marks a response destroyed by the time it emits 'close', so this also covers a close already heard.
    if (this.res.destroyed) holders.closed();
    return holders;
  }

  /** The exchange begins: its abort, which a stream's client leaving triggers. */
  begin(stream: boolean): CallAbort {
    // A CallAbort, not an AbortController: Node 20 takes about 8 µs to make an AbortSignal.
    const controller = new CallAbort();
    this.#controller = controller;
    this.#stream = stream;
    return controller;
  }

  /** The exchange is over (settled and reported): the client leaving from here on changes nothing. */
  end(): void {
    this.#controller = undefined;
    const closedAt = this.#closedAt;
    if (closedAt === undefined) return;
    this.#closedAt = undefined;
    this.#writeLine(closedAt, false);
  }

  /** The access line, at the response's close or (a client that left) once the exchange ended. */
  #writeLine(closedAt?: number, complete?: boolean): void {
    if (this.#entry !== undefined) this.accessLog.close(this.#entry, 'POST', this.req.url ?? '/', this.res, closedAt, complete);
  }

  readonly #onClose = (): void => {
    const { res } = this;
    const controller = this.#controller;
    const leftEarly = controller !== undefined && !res.writableFinished;
    if (leftEarly) this.#closedAt = performance.now();
    else this.#writeLine();
    this.#holders?.closed();
    if (!leftEarly) return;
    this.gone = true;
    if (this.#stream) controller.abort(new Error('the client closed the connection'));
  };

  answer(status: number, body: string, close: boolean): void {
    const { req, res } = this;
    if (this.bodyGuard.beforeAnswer(req, res) || close) res.setHeader('connection', 'close');
    res.writeHead(status, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  refuse(failure: MoongateError, close: boolean): void {
    const { res } = this;
    if (res.headersSent || res.destroyed) return;
    const retryAfter = retryAfterOf(failure);
    if (retryAfter !== undefined) res.setHeader('retry-after', retryAfter);
    this.answer(failure.status, JSON.stringify(errorEnvelope(failure, this.traceId)), close);
  }

  /** The one error handler's work (error-handler.ts): the envelope, and a log line for what is ours. */
  fail(error: unknown, close = false): void {
    this.refuse(failureOf(error, this.req, this.log), close);
  }
}

function tooLarge(): MoongateError {
  return new MoongateError('too_large', 'The request body is larger than the configured limit.');
}

function writeSseHead(res: ServerResponse): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    // Tell nginx-style proxies not to buffer the stream.
    'x-accel-buffering': 'no',
  });
}

function logFailure(log: FastifyBaseLogger, error: unknown, message: string): void {
  if (error instanceof MoongateError) log.warn({ code: error.code, err: error }, message);
  else log.error({ err: error }, message);
}
