/**
 * The one error handler: every failure leaves as SPEC.md's envelope, with the
 * trace id of the request. Unknown failures are logged and become api_error, so no
 * internal detail (or upstream secret) reaches a client.
 */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MoongateError, asMoongateError, errorEnvelope, newTraceId } from '../contract/index.js';

/** How much of a framework's message a client gets back: they name the problem, never echo input at length. */
const MESSAGE_CHARS = 200;

/**
 * Fastify's own errors that are the client's fault, mapped to SPEC.md's table. Bodies go
 * through our catch-all JSON parser (app.ts), so its JSON errors never arise; a content-type
 * that is not a media type at all (`a/b/c`, `;`) is refused before any parser runs.
 */
function fromFastifyError(error: FastifyError): MoongateError | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new MoongateError('too_large', 'The request body is larger than the configured limit.');
    case 'FST_ERR_BAD_URL':
      return new MoongateError('bad_request', 'the request URL is malformed');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new MoongateError('bad_request', error.message);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new MoongateError('bad_request', 'the content-type header is not a valid media type; send application/json');
    case 'FST_ERR_ROUTE_MISSING_CONTENT_TYPE':
      // A method with a body (QUERY, for one) and no content-type: no route of ours takes one.
      return new MoongateError('api_not_implemented', error.message.slice(0, MESSAGE_CHARS));
    default:
      if (error.statusCode === 413) return new MoongateError('too_large');
      if (typeof error.code === 'string' && error.code.startsWith('FST_')) return fromClientStatus(error.statusCode, error.message);
      return undefined;
  }
}

/**
 * A 4xx that a framework or plugin chose (Fastify's FST_ errors, and the http-errors that
 * @fastify/static raises for `/assets/../x` or `%00`, which mark themselves `expose`), as the
 * catalogue's code for that status. Anything else, 5xx included, stays api_error.
 */
function fromClientStatus(status: number | undefined, message: string): MoongateError | undefined {
  if (status === undefined || status < 400 || status > 499) return undefined;
  if (status === 404 || status === 403) return new MoongateError('no_api', 'No API or file at this path');
  if (status === 405 || status === 501) return new MoongateError('api_not_implemented');
  if (status === 413) return new MoongateError('too_large');
  return new MoongateError('bad_request', `the request is invalid: ${message.slice(0, MESSAGE_CHARS)}`);
}

/** http-errors (used by @fastify/send): `expose` is true for the client errors it raises. */
function isExposedHttpError(error: Error): error is Error & { status: number; expose: true } {
  return 'expose' in error && error.expose === true && 'status' in error && typeof error.status === 'number';
}

export function toMoongateError(error: unknown): MoongateError {
  if (!(error instanceof MoongateError) && error instanceof Error) {
    if ('code' in error) {
      const mapped = fromFastifyError(error as FastifyError);
      if (mapped !== undefined) return mapped;
    }
    if (isExposedHttpError(error)) {
      const mapped = fromClientStatus(error.status, 'the path is not a valid file path');
      if (mapped !== undefined) return mapped;
    }
  }
  return asMoongateError(error);
}

/**
 * The refusals a request gets before it is routed, on Fastify's routes and the chat route
 * alike; each answer closes the connection. An HTTP/1.1 request without Host (Node would answer
 * it with a bare 400 of its own: RFC 9112, section 3.2), and a request during shutdown: SPEC.md's
 * table has no 503, so it is a 500 api_error, and the connection closes so the client's next
 * attempt goes to a live process.
 */
export function turnedAway(req: IncomingMessage, draining: boolean): MoongateError | undefined {
  if (req.httpVersion === '1.1' && req.headers.host === undefined) return new MoongateError('bad_request', 'the Host header is required in HTTP/1.1');
  if (draining) return new MoongateError('api_error', 'the server is shutting down');
  return undefined;
}

/** The `retry-after` header of an error that has one: whole seconds, at least 1. */
export function retryAfterOf(error: MoongateError): string | undefined {
  return error.retryAfter === undefined ? undefined : String(Math.max(1, Math.ceil(error.retryAfter)));
}

export function sendError(reply: FastifyReply, error: MoongateError, traceId: string): FastifyReply {
  const retryAfter = retryAfterOf(error);
  if (retryAfter !== undefined) reply.header('retry-after', retryAfter);
  return reply.code(error.status).type('application/json').send(JSON.stringify(errorEnvelope(error, traceId)));
}

/**
 * What the one error handler does with a failure, for Fastify's routes and for the chat route
 * that runs ahead of Fastify: the error the envelope carries, and a log line when it is ours.
 */
export function failureOf(error: unknown, req: IncomingMessage, log: Pick<FastifyBaseLogger, 'info' | 'error'>): MoongateError {
  const failure = toMoongateError(error);
  // A client that hung up while sending its body (Node's "aborted") is no failure of ours.
  const clientLeft = error instanceof Error && (error as ClientError).code === 'ECONNRESET' && req.destroyed;
  if (clientLeft) log.info('client closed the connection before its request arrived');
  else if (failure.code === 'api_error') log.error({ err: failure.cause ?? failure }, 'request failed');
  return failure;
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const failure = failureOf(error, request.raw, request.log);
    if (reply.raw.headersSent || reply.raw.destroyed) return;
    return sendError(reply, failure, request.id);
  });
}

/** Node's HTTP parser errors: the request never became a request, so Fastify never saw it. */
interface ClientError extends Error {
  code?: string;
}

/** Until the peer closes its side; a peer that never does is cut off after this. */
const CLIENT_ERROR_LINGER_MS = 2_000;

function clientErrorOf(error: ClientError): MoongateError {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return new MoongateError('too_large', 'The request headers are larger than the server accepts.');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return new MoongateError('request_timeout', 'the request did not arrive in time');
    default:
      return new MoongateError('bad_request', `the request is not valid HTTP/1.1 (${error.code ?? 'parse error'})`);
  }
}

/**
 * Fastify's clientErrorHandler: a request Node's parser rejected (a malformed request line,
 * header or chunked body) gets the envelope and a trace id like any other answer, and
 * `connection: close`, because the bytes after a broken request cannot be read as requests:
 * a keep-alive client must resend them on a new connection. The socket is ended (not
 * destroyed at once, which can reset the connection before the client reads the answer).
 */
export function answerClientError(error: ClientError, socket: Duplex, log?: Pick<FastifyBaseLogger, 'info'>): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const traceId = newTraceId();
  log?.info({ trace_id: traceId, code: error.code }, 'client error: request could not be parsed');
  const failure = clientErrorOf(error);
  const body = JSON.stringify(errorEnvelope(failure, traceId));
  const answer =
    `HTTP/1.1 ${failure.status} ${STATUS_CODES[failure.status] ?? 'Error'}\r\n` +
    'content-type: application/json; charset=utf-8\r\n' +
    `content-length: ${Buffer.byteLength(body)}\r\n` +
    `x-trace-id: ${traceId}\r\n` +
    'x-content-type-options: nosniff\r\n' +
    'connection: close\r\n\r\n' +
    body;
  // Pipelined requests before the broken one are answered first, in order: Node keeps the
  // response being written as socket._httpMessage and moves the next queued one there when
  // it finishes. Our answer goes out once none is left, so it never cuts into another.
  let turns = 0;
  const answerWhenIdle = (): void => {
    if (socket.destroyed) return;
    const current = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (current !== null && current !== undefined) {
      // A response whose request is still arriving belongs to the broken request itself: it will never finish.
      if (!current.writableFinished && current.req.complete) {
        current.once('close', () => setImmediate(answerWhenIdle));
        return;
      }
      // Finished but not yet detached: Node hands the socket to the next queued response on its own turn.
      if (current.writableFinished && turns++ < 8) {
        setImmediate(answerWhenIdle);
        return;
      }
    }
    if (socket.writable) socket.write(answer);
    socket.end();
    setTimeout(() => socket.destroy(), CLIENT_ERROR_LINGER_MS).unref();
  };
  answerWhenIdle();
}
