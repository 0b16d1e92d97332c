/**
 * One access-log line per request, at info, written when its response is over (issue 20):
 * the trace id, method, path, status, how long it took, and for a chat request the model
 * and the tokens billed. It replaces Fastify's two lines (incoming, completed), which said
 * less and cost twice the serialisation.
 *
 * The chat route passes each request's own observer to the gateway (ChatExchange.observe),
 * and the line takes the model and tokens from the record it is told. A chat response that
 * closes before it is complete (a client that left) has its line written once the exchange
 * has settled, with what it billed, and the duration to the close. No table of open
 * requests is kept: adding and deleting a long-lived Map's entry per request made V8
 * allocate the Map a new table in the old generation at every delete that emptied it
 * (docs/benchmark.md, "Old-space garbage").
 * The path is logged without its query string, and no header is logged: nothing secret.
 *
 * So the line is written by a child of the logger without its redaction paths (issue 20):
 * with wildcard paths (`*.token`, LOG_REDACTIONS) pino runs every field of every line
 * through the redactor, some 3 to 10 µs a line, to find keys this line never has. Its
 * fields are the fixed ones below, none of them a header, a body or a query string, and
 * test/integration/logs.test.ts holds the line to exactly these keys. Every other line,
 * a request's included, keeps the logger's redaction.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { RequestObserver, RequestRecord } from '../gateway/pipeline.js';

/** pino's levels that write an info line. */
const INFO_OR_FINER = new Set(['info', 'debug', 'trace']);

/** Where `begin` keeps a Fastify route's entry: on its response, for `observerOf`. */
const ENTRY = Symbol('access entry');
type Begun = ServerResponse & { [ENTRY]?: AccessEntry };

/** A request whose line is still to be written (AccessLog.open). */
export interface AccessEntry {
  readonly traceId: string;
  readonly startedAt: number;
  record: RequestRecord | undefined;
}

export class AccessLog {
  /** The app's logger without redaction; undefined: no lines (no logger). */
  readonly #lines: FastifyBaseLogger | undefined;

  constructor(logger?: FastifyBaseLogger) {
    this.#lines = logger?.child({}, { redact: [] });
  }

  /**
   * Called as a request starts (the app's onRequest hook): the line is written once the
   * response closes.
   */
  begin(traceId: string, method: string, url: string, res: ServerResponse): void {
    const entry = this.open(traceId);
    if (entry === undefined) return;
    (res as Begun)[ENTRY] = entry;
    res.once('close', () => this.close(entry, method, url, res));
  }

  /** What a Fastify route's request (begun with `begin`) tells its line: the gateway's report of a refused caller. */
  static observerOf(res: ServerResponse): RequestObserver {
    return (record) => {
      const entry = (res as Begun)[ENTRY];
      if (entry !== undefined) entry.record = record;
    };
  }

  /**
   * A request's line to come, for a caller that follows its response's close itself (the chat
   * route, ahead of Fastify: one close listener does all its work) and sets its `record`;
   * undefined when there is no line to write (LOG_LEVEL=warn and above, or no logger).
   */
  open(traceId: string): AccessEntry | undefined {
    const lines = this.#lines;
    if (lines === undefined || !INFO_OR_FINER.has(lines.level)) return undefined;
    return { traceId, startedAt: performance.now(), record: undefined };
  }

  /**
   * Writes the line of `entry` once its response has closed: at `closedAt` (now by default),
   * `complete` or not (whether it had finished then; the response's own word by default).
   */
  close(entry: AccessEntry, method: string, url: string, res: ServerResponse, closedAt = performance.now(), complete = res.writableFinished): void {
    const { traceId, record } = entry;
    const usage = record?.usage ?? undefined;
    const query = url.indexOf('?');
    // One object of a fixed shape; pino leaves out the fields that are undefined.
    this.#lines?.info(
      {
        // First, where a child's binding would be: the line reads as every other line of the request.
        trace_id: traceId,
        method,
        path: query < 0 ? url : url.slice(0, query),
        status: res.statusCode,
        // The client left before the response was complete.
        aborted: complete ? undefined : true,
        duration_ms: Math.round((closedAt - entry.startedAt) * 10) / 10,
        model: record?.model ?? undefined,
        prompt_tokens: usage?.prompt_tokens,
        completion_tokens: usage?.completion_tokens,
        code: record?.error?.code,
      },
      'request',
    );
  }
}
