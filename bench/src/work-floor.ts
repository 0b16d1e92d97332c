/**
 * The work floor, run in place of `moongate serve` (the bench's non-stream rounds, and
 * ab-compare's `work` server): every step moongate must take for a non-stream chat request,
 * done by moongate's own compiled modules, on node:http in, with nothing between the steps:
 * no framework, no hooks, router, gateway or per-request objects of moongate's around them.
 * What it costs above the lean floor is the work; what moongate costs above it is how moongate
 * puts the work together (docs/benchmark.md, "The work floor").
 *
 * The steps, in moongate's order:
 * 1. the trace id (a random UUID, as moongate's);
 * 2. the credential: `authenticate` with the credential cache (SHA-256 of the token, the
 *    cache, the checks SPEC.md lists), through the gateway's `admitCaller`;
 * 3. the limits: there too, the in-memory limiter's credential and person permit, released
 *    at the end;
 * 4. the body: read whole within moongate's default size limit, then moongate's own body
 *    parser (`parseJsonBody`: Latin-1 when ASCII, `JSON.parse`, its source kept for a long
 *    prompt), `parseChatRequest`, the model, `checkAgainstModel`;
 * 5. the prompt counted (`PromptFigure`), the context checked, the completion cap set;
 * 6. the quota hold (the billing admitter, on SQLite);
 * 7. the upstream call by moongate's own provider (`OpenAICompatibleProvider.complete`: the
 *    upstream body, undici's dispatch API, the status mapped, the completion read and checked
 *    by its chunk reader), under the channel's total deadline (a timer and moongate's CallAbort);
 * 8. the answer built from the events (`CompletionBuilder`), each event's choice checked;
 * 9. the settlement, awaited before the answer (group commit on SQLite, the usage row; on
 *    SQLite the answer waits for the settlement journal and the commit follows it), and
 *    for a request that fails once held, its settlement as failed;
 * 10. the metrics observer and the access line (pino, the same fields as moongate's);
 * 11. the answer with its length and the trace id; an error envelope for whatever throws.
 *
 * It is a measuring instrument, not a server: no stream, no failover, no client that leaves,
 * no shutdown. moongate's modules are loaded from its build (`dist/`, `npm run build`), by
 * path, since the bench compiles apart from them (moongate-modules.ts).
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import {
  type Caller,
  type ChatEvent,
  type ChatRequest,
  type Hold,
  type MoongateError,
  type Usage,
  authenticate,
  ChatGateway,
  CompletionBuilder,
  contract,
  CredentialCache,
  KIMI_SERVICE,
  MemoryRequestLimiter,
  Metrics,
  OpenAICompatibleProvider,
  openStore,
  PromptFigure,
  resolveModel,
  startBilling,
} from './moongate-modules.js';
import { readWholeBody } from './read-body.js';

/** moongate's default MAX_BODY_BYTES (src/config.ts). */
const MAX_BODY_BYTES = 16 * 1024 * 1024;
/** moongate's default channel deadline, `timeouts.totalMs` (src/channels/channel-config.ts). */
const TOTAL_MS = 900_000;

const dataDir = process.env.DATA_DIR;
const config = process.env.MOONGATE_CONFIG;
if (dataDir === undefined || config === undefined) throw new Error('DATA_DIR and MOONGATE_CONFIG are required (bench/src/moongate-process.ts sets them)');
const channel = (JSON.parse(await readFile(config, 'utf8')) as { channels: { name: string; baseUrl: string; apiKey: string }[] }).channels[0];
if (channel === undefined) throw new Error(`${config} names no channel`);
const channelName = channel.name;

const store = await openStore({ dataDir });
// With moongate's spool, and so (SQLite) its settlement journal: the answer waits for the journal, not the commit.
const billing = await startBilling(store, { retentionDays: 90, spoolPath: join(dataDir, 'settlement-spool.jsonl') }, () => undefined);
const credentials = new CredentialCache();
const metrics = new Metrics();
const provider = new OpenAICompatibleProvider({ baseUrl: channel.baseUrl, apiKey: channel.apiKey });
// As moongate writes its access line: stdout in pieces of 4 KB or every 250 ms, a child without redaction.
const logger = pino({ level: 'info' }, pino.destination({ dest: 1, minLength: 4096, periodicFlush: 250 }));
const lines = logger.child({}, { redact: [] });

/**
 * Steps to leave out, to measure what each costs (`WORK_FLOOR_SKIP=count+log`, '+' between
 * names since ab-compare's --a-env takes ','): credential (the first request's caller for
 * all), limits, validate (the parsed body taken as it is), count (a fixed figure and cap),
 * hold (and its settlement), settle (the hold kept, never settled), metrics, log.
 */
const STEPS = ['credential', 'limits', 'validate', 'count', 'hold', 'settle', 'metrics', 'log'] as const;
const skip = new Set((process.env.WORK_FLOOR_SKIP ?? '').split('+').filter((step) => step !== ''));
for (const step of skip) if (!(STEPS as readonly string[]).includes(step)) throw new Error(`WORK_FLOOR_SKIP: no step ${step}; the steps: ${STEPS.join(', ')}`);
const NO_HOLD: Hold = { settle: () => Promise.resolve() };

/** With `credential` skipped: the caller the first request's token named, for every request after it. */
let firstCaller: Caller | undefined;
const authenticateCaller = (authorization: string | undefined, service: string): Promise<Caller> =>
  skip.has('credential') && firstCaller !== undefined
    ? Promise.resolve(firstCaller)
    : authenticate(authorization, service, store, Date.now(), credentials).then((caller) => (firstCaller = caller));
/**
 * Steps 2 and 3 as moongate takes them, the gateway's `admitCaller` (the credential, then
 * the credential's and the person's limits with their defaults); nothing else of the gateway
 * is used, so it has no router.
 */
const admission = new ChatGateway({
  authenticate: authenticateCaller,
  ...(skip.has('limits') ? {} : { limiter: new MemoryRequestLimiter() }),
  router: {},
  // A refused caller is observed there, as moongate's is.
  observers: skip.has('metrics') ? [] : [metrics.observer],
});

/** The body read whole, refused past moongate's size limit. */
function readBody(req: IncomingMessage): Promise<Buffer> {
  return readWholeBody(req, MAX_BODY_BYTES, () => new contract.MoongateError('bad_request', 'the request body is too large'));
}

interface Served {
  model: string | undefined;
  usage: Usage | undefined;
}

async function serve(req: IncomingMessage, res: ServerResponse, traceId: string, startedAt: number, served: Served): Promise<void> {
  const { caller, admittedAt, release } = await admission.admitCaller(req.headers.authorization, KIMI_SERVICE.slug, traceId);
  try {
    const raw = contract.parseJsonBody(await readBody(req)) as ChatRequest;
    const parsed = skip.has('validate') ? { ...raw, stream: false, n: 1 } : contract.parseChatRequest(raw);
    const found = resolveModel(contract.BUILT_IN_LOOKUP, parsed.model);
    const model = found instanceof Promise ? await found : found;
    served.model = model.id;
    const { request: asked, mediaTokens } = skip.has('validate') ? { request: parsed, mediaTokens: 0 } : contract.checkAgainstModel(parsed, model);
    let promptTokens = 9;
    let cap = 1024;
    let count = (): number => promptTokens;
    if (!skip.has('count')) {
      const prompt = PromptFigure.of(asked, model);
      prompt.checkContext();
      promptTokens = prompt.tokens;
      cap = prompt.completionCap();
      count = () => prompt.count();
    }
    const request = { ...asked, max_tokens: cap };
    const hold = skip.has('hold') ? NO_HOLD : await billing.admitter.admit({ traceId, caller, admittedAt, model, request, promptTokens: promptTokens + mediaTokens });
    let accepted = false;
    const settle = async (outcome: 'completed' | 'failed', usage: Usage | null, error: MoongateError | null): Promise<void> => {
      const result = { outcome, usage, error, channel: channelName, stream: false, ttftMs: performance.now() - startedAt, durationMs: performance.now() - startedAt };
      if (!skip.has('settle')) await hold.settle(result);
      if (!skip.has('metrics')) metrics.observer({ traceId, model: model.id, caller, ...result });
    };
    let body: string;
    let usage: Usage;
    const controller = new contract.CallAbort();
    const deadline = setTimeout(() => controller.abort(new contract.MoongateError('timeout')), TOTAL_MS);
    try {
      const events = await provider.complete({
        request,
        model,
        upstreamModel: model.id,
        promptTokens,
        signal: controller.signal,
        onAccepted: () => {
          accepted = true;
        },
      });
      const builder = new CompletionBuilder(contract.newCompletionId(), Math.floor(Date.now() / 1000), request.model, model.thinking, request.n);
      let reported: (ChatEvent & { type: 'usage' }) | undefined;
      for (const event of events) {
        if (event.type === 'usage') {
          reported = event;
          continue;
        }
        if (!Number.isInteger(event.index) || event.index < 0 || event.index >= request.n) throw new contract.MoongateError('api_error', 'the upstream sent a choice nobody asked for');
        if (event.type === 'delta') builder.addDelta(event);
        else builder.finish(event.index, event.reason);
      }
      // The bench's upstream always reports its usage; moongate would count the reply without it.
      usage =
        reported === undefined
          ? contract.makeUsage(count(), 0)
          : contract.makeUsage(reported.promptTokens, reported.completionTokens, reported.cachedTokens ?? 0, reported.cacheWriteTokens ?? 0);
      body = JSON.stringify(builder.build(usage));
    } catch (error) {
      // Once held, a request that fails is settled too: its prompt billed if the upstream took it.
      await settle('failed', accepted ? contract.makeUsage(count(), 0) : null, contract.asMoongateError(error));
      throw error;
    } finally {
      clearTimeout(deadline);
    }
    await settle('completed', usage, null);
    served.usage = usage;
    answer(res, 200, body, traceId);
  } finally {
    release();
  }
}

/** A JSON answer with its length and moongate's headers. */
function answer(res: ServerResponse, status: number, body: string, traceId: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-trace-id': traceId,
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(body);
}

function answerError(res: ServerResponse, traceId: string, error: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const failure = contract.asMoongateError(error);
  const headers: Record<string, string> = failure.retryAfter === undefined ? {} : { 'retry-after': String(Math.max(1, Math.ceil(failure.retryAfter))) };
  answer(res, failure.status, JSON.stringify(contract.errorEnvelope(failure, traceId)), traceId, headers);
}

const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  const traceId = contract.newTraceId();
  const startedAt = performance.now();
  const served: Served = { model: undefined, usage: undefined };
  void serve(req, res, traceId, startedAt, served)
    .catch((error: unknown) => answerError(res, traceId, error))
    .then(() => {
      if (skip.has('log')) return;
      const query = req.url?.indexOf('?') ?? -1;
      lines.info(
        {
          trace_id: traceId,
          method: req.method,
          path: query < 0 ? req.url : req.url?.slice(0, query),
          status: res.statusCode,
          duration_ms: Math.round((performance.now() - startedAt) * 10) / 10,
          model: served.model,
          prompt_tokens: served.usage?.prompt_tokens,
          completion_tokens: served.usage?.completion_tokens,
        },
        'request',
      );
    });
});

server.listen(0, '127.0.0.1', () => {
  // The line moongate-process.ts waits for, as `moongate serve` prints it.
  console.log(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
process.once('SIGTERM', () => {
  server.close();
  void billing.close().finally(() => process.exit(0));
});
