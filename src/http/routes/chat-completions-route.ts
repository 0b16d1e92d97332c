/**
 * POST /kimi/chat/completions (the seed's path) and POST /v1/chat/completions
 * (so every OpenAI SDK works with baseURL=<server>/v1).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MoongateError } from '../../contract/index.js';
import type { ChatGateway, ChatOutcome } from '../../gateway/chat-gateway.js';
import { KIMI_SERVICE } from '../../store/seed-services.js';
import { SseSink } from '../sse-sink.js';

export const CHAT_COMPLETIONS_PATHS = ['/kimi/chat/completions', '/v1/chat/completions'] as const;

export function registerChatCompletionsRoute(app: FastifyInstance, gateway: ChatGateway): void {
  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    // One AbortSignal per request: a client that leaves aborts the upstream call.
    const controller = new AbortController();
    const onClose = (): void => {
      if (!reply.raw.writableFinished) controller.abort(new Error('the client closed the connection'));
    };
    reply.raw.once('close', onClose);

    let outcome: ChatOutcome;
    try {
      outcome = await gateway.handle({
        traceId: request.id,
        authorization: request.headers.authorization,
        serviceSlug: KIMI_SERVICE.slug,
        body: request.body,
        signal: controller.signal,
      });
    } catch (error) {
      if (!controller.signal.aborted) throw error;
      // The client left before the answer: not an error of ours, and nobody to answer.
      request.log.info('the client closed the connection before the response');
      reply.hijack();
      return;
    }

    if (outcome.kind === 'json') {
      await reply.type('application/json').send(JSON.stringify(outcome.body));
      return;
    }

    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      ...(reply.getHeaders() as Record<string, string>),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      // Tell nginx-style proxies not to buffer the stream.
      'x-accel-buffering': 'no',
    });
    try {
      await outcome.pipe(new SseSink(res));
    } catch (error) {
      // The client already got the error in-band; this is for the operator.
      if (error instanceof MoongateError) request.log.warn({ code: error.code, err: error }, 'stream failed after it started');
      else request.log.error({ err: error }, 'stream failed after it started');
    } finally {
      if (!res.writableEnded) res.end();
    }
  };
  for (const path of CHAT_COMPLETIONS_PATHS) app.post(path, handler);
}
