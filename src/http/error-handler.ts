/**
 * The one error handler: every failure leaves as SPEC.md's envelope, with the
 * trace id of the request. Unknown failures are logged and become api_error, so no
 * internal detail (or upstream secret) reaches a client.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MoongateError, asMoongateError, errorEnvelope } from '../contract/index.js';

/**
 * Fastify's own errors that are the client's fault, mapped to SPEC.md's table. Bodies go
 * through our catch-all JSON parser (app.ts), so its media-type and JSON errors never arise.
 */
function fromFastifyError(error: FastifyError): MoongateError | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new MoongateError('too_large', 'The request body is larger than the configured limit.');
    case 'FST_ERR_BAD_URL':
      return new MoongateError('bad_request', 'the request URL is malformed');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new MoongateError('bad_request', error.message);
    default:
      return error.statusCode === 413 ? new MoongateError('too_large') : undefined;
  }
}

export function toMoongateError(error: unknown): MoongateError {
  if (!(error instanceof MoongateError) && error instanceof Error && 'code' in error) {
    const mapped = fromFastifyError(error as FastifyError);
    if (mapped !== undefined) return mapped;
  }
  return asMoongateError(error);
}

export function sendError(reply: FastifyReply, error: MoongateError, traceId: string): FastifyReply {
  if (error.retryAfter !== undefined) reply.header('retry-after', String(Math.max(1, Math.ceil(error.retryAfter))));
  return reply.code(error.status).type('application/json').send(JSON.stringify(errorEnvelope(error, traceId)));
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const failure = toMoongateError(error);
    if (failure.code === 'api_error') {
      request.log.error({ err: failure.cause ?? failure }, 'request failed');
    }
    if (reply.raw.headersSent || reply.raw.destroyed) return;
    return sendError(reply, failure, request.id);
  });
}
