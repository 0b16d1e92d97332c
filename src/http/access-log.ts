/**
 * One access-log line per request, at info, written when its response is over (issue 20):
 * the trace id, method, path, status, how long it took, and for a chat request the model
 * and the tokens billed. It replaces Fastify's two lines (incoming, completed), which said
 * less and cost twice the serialisation.
 *
 * The gateway reports each request it handled to `observer` (a RequestObserver, like the
 * metrics'); the line takes the model and tokens from that report. A report that comes after
 * the response closed (a client that left mid-stream settles afterwards) is not waited for.
 * The path is logged without its query string, and no header is logged: nothing secret.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RequestObserver, RequestRecord } from '../gateway/pipeline.js';

/** pino's levels that write an info line. */
const INFO_OR_FINER = new Set(['info', 'debug', 'trace']);

interface Open {
  startedAt: number;
  record: RequestRecord | undefined;
}

export class AccessLog {
  /** Requests whose line is still to be written, by trace id. */
  readonly #open = new Map<string, Open>();

  readonly observer: RequestObserver = (record) => {
    const open = this.#open.get(record.traceId);
    if (open !== undefined) open.record = record;
  };

  /** Called from the app's onRequest hook: the line is written once the response closes. */
  begin(request: FastifyRequest, reply: FastifyReply): void {
    // At LOG_LEVEL=warn and above there is no line to write, so nothing is kept.
    if (!INFO_OR_FINER.has(request.log.level)) return;
    const traceId = request.id;
    const open: Open = { startedAt: performance.now(), record: undefined };
    this.#open.set(traceId, open);
    reply.raw.once('close', () => {
      this.#open.delete(traceId);
      const res = reply.raw;
      const { record } = open;
      const usage = record?.usage ?? null;
      const query = request.url.indexOf('?');
      request.log.info(
        {
          method: request.method,
          path: query < 0 ? request.url : request.url.slice(0, query),
          status: res.statusCode,
          // The client left before the response was complete.
          ...(res.writableFinished ? {} : { aborted: true }),
          duration_ms: Math.round((performance.now() - open.startedAt) * 10) / 10,
          ...(record?.model == null ? {} : { model: record.model }),
          ...(usage === null ? {} : { prompt_tokens: usage.prompt_tokens, completion_tokens: usage.completion_tokens }),
          ...(record?.error == null ? {} : { code: record.error.code }),
        },
        'request',
      );
    });
  }
}
