/**
 * POST /kimi/chat/completions (the seed's path) and POST /v1/chat/completions
 * (so every OpenAI SDK works with baseURL=<server>/v1).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ChatGateway } from '../../gateway/chat-gateway.js';
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

    const outcome = await gateway.handle({
      traceId: request.id,
      authorization: request.headers.authorization,
      serviceSlug: KIMI_SERVICE.slug,
      body: request.body,
      signal: controller.signal,
    });

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
      request.log.error({ err: error }, 'stream failed');
    } finally {
      if (!res.writableEnded) res.end();
    }
  };
  for (const path of CHAT_COMPLETIONS_PATHS) app.post(path, handler);
}
