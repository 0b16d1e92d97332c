/**
 * POST /kimi/chat/completions (the seed's path) and POST /v1/chat/completions
 * (so every OpenAI SDK works with baseURL=<server>/v1).
 *
 * A stream whose first event takes longer than keepAliveMs (a long prefill, or failover
 * across slow channels) is committed early: 200 and the SSE headers go out with a
 * `: keep-alive` comment, so proxies keep the connection. The router may still fail over,
 * since no data chunk was sent; a failure before the first chunk then arrives in-band
 * (SPEC.md's last event and [DONE]) instead of as an HTTP status (docs/channels.md).
 *
 * Cheap checks first (docs/security.md, "Order of checks"): the route's onRequest hook
 * authenticates and takes the rate and concurrency permit before Fastify reads the body,
 * so a caller without a valid credential, or over its limits, is answered without its
 * body being read or parsed. The permit is held until the response is over.
 *
 * A client that leaves a stream aborts it (the upstream call is cut; what was generated is
 * billed). A non-stream request runs to its end even when its client leaves: its upstream
 * answers in one piece, so cutting it would show nothing of what was generated, while the
 * upstream bills the operator for it; the whole reply is billed from the upstream's usage,
 * and the caller's concurrency permit stays taken until then (docs/billing.md, "Early ends").
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import { CallAbort, MoongateError, asMoongateError, errorEnvelope } from '../../contract/index.js';
import type { ChatGateway } from '../../gateway/chat-gateway.js';
import type { ChatAnswer } from '../../gateway/pipeline.js';
import type { InFlightRequests } from '../in-flight-requests.js';
import { SseSink } from '../sse-sink.js';
import { callerPasses } from './caller-passes.js';

export const CHAT_COMPLETIONS_PATHS = ['/kimi/chat/completions', '/v1/chat/completions'] as const;

export interface ChatRouteOptions {
  /** Silence before a `: keep-alive` comment; 0 turns keep-alives off. */
  keepAliveMs?: number;
  inFlight?: InFlightRequests;
}

function wantsStream(body: unknown): boolean {
  return typeof body === 'object' && body !== null && (body as { stream?: unknown }).stream === true;
}

export function registerChatCompletionsRoute(app: FastifyInstance, gateway: ChatGateway, options: ChatRouteOptions = {}): void {
  const keepAliveMs = options.keepAliveMs ?? 0;
  const { admitCaller, passOf, keep } = callerPasses(gateway, 'the chat route');

  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const pass = passOf(request);
    const stream = wantsStream(request.body);
    // One abort per request: a shutdown aborts it, and so does a stream's client that leaves.
    // A CallAbort, not an AbortController: Node 20 takes about 8 µs to make an AbortSignal.
    const controller = new CallAbort();
    let gone = false;
    const onClose = (): void => {
      if (reply.raw.writableFinished) return;
      gone = true;
      if (stream) controller.abort(new Error('the client closed the connection'));
    };
    reply.raw.once('close', onClose);
    // The permit covers the work, not just the connection: a non-stream call outlives its client.
    const kept = keep(request);
    const tracked = options.inFlight?.add(controller);

    let sink: SseSink | undefined;
    const commit = (): SseSink => {
      if (sink !== undefined) return sink;
      reply.hijack();
      writeSseHead(reply);
      tracked?.markStream();
      sink = new SseSink(reply.raw, keepAliveMs);
      return sink;
    };
    const early =
      keepAliveMs > 0 && stream
        ? setTimeout(() => {
            if (!reply.raw.destroyed) commit().ping();
          }, keepAliveMs)
        : undefined;

    try {
      let outcome: ChatAnswer;
      try {
        outcome = await gateway.handle({
          traceId: request.id,
          pass,
          body: request.body,
          signal: controller.signal,
          clientGone: () => gone,
        });
      } catch (error) {
        clearTimeout(early);
        if (controller.signal.aborted) {
          // The client left before the answer: not an error of ours, and nobody to answer.
          request.log.info('the client closed the connection before the response');
          if (sink === undefined) reply.hijack();
          else reply.raw.end();
          return;
        }
        if (sink === undefined) throw error;
        // Committed early: the status is already 200, so the error goes in-band.
        const failure = asMoongateError(error);
        logFailure(request, failure, 'request failed after the stream was committed');
        await sink.send(JSON.stringify(errorEnvelope(failure, request.id)));
        await sink.done();
        return;
      }
      clearTimeout(early);

      if (outcome.kind === 'json') {
        if (gone) {
          // Answered and billed, but nobody is left to read it.
          request.log.info('the client closed the connection before the response');
          reply.hijack();
          return;
        }
        await reply.type('application/json').send(JSON.stringify(outcome.body));
        return;
      }

      const res = reply.raw;
      try {
        await outcome.pipe(commit());
      } catch (error) {
        // The client already got the error in-band; this is for the operator.
        logFailure(request, error, 'stream failed after it started');
      } finally {
        if (!res.writableEnded) res.end();
      }
    } finally {
      clearTimeout(early);
      tracked?.end();
      kept();
    }
  };
  for (const path of CHAT_COMPLETIONS_PATHS) app.post(path, { onRequest: admitCaller }, handler);
}

function writeSseHead(reply: FastifyReply): void {
  const res: ServerResponse = reply.raw;
  res.writeHead(200, {
    ...(reply.getHeaders() as Record<string, string>),
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    // Tell nginx-style proxies not to buffer the stream.
    'x-accel-buffering': 'no',
  });
}

function logFailure(request: FastifyRequest, error: unknown, message: string): void {
  if (error instanceof MoongateError) request.log.warn({ code: error.code, err: error }, message);
  else request.log.error({ err: error }, message);
}
