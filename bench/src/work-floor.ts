/**
 * The work floor, run in place of `moongate serve` (ab-compare's `work` server): every step
 * moongate must take for a non-stream chat request, done by moongate's own compiled modules,
 * on node:http in and an undici Pool out, with nothing between the steps. No framework, no
 * hooks, router, provider or gateway objects, no AbortSignal, no per-request closure beyond
 * the one async function; what it costs above the lean floor is the work itself, and what
 * moongate costs above it is how moongate is put together (docs/benchmark.md, "The work floor").
 *
 * The steps, in moongate's order:
 * 1. the credential: `authenticate` with the credential cache (SHA-256 of the token, the
 *    cache, the checks SPEC.md lists);
 * 2. the limits: the in-memory limiter's credential and person permit, released at the end;
 * 3. the body: read whole, `JSON.parse`, `parseChatRequest`, the model, `checkAgainstModel`;
 * 4. the prompt counted (`PromptFigure`), the context checked, the completion cap set;
 * 5. the quota hold (the billing admitter, on SQLite);
 * 6. the upstream call: the JSON body with the model, messages, stream and cap, one Pool request;
 * 7. the completion: read whole, parsed, built again as moongate's answer (`CompletionBuilder`);
 * 8. the settlement, awaited before the answer (group commit on SQLite, the usage row);
 * 9. the metrics observer and the access line (pino, the same fields);
 * 10. the answer, with its length and the trace id.
 *
 * It is a measuring instrument, not a server: it answers the bench's request and an error
 * envelope for anything that throws, and handles no stream, no early end and no failover.
 * moongate's modules are loaded from its build (`dist/`, `npm run build`), by path, since the
 * bench compiles apart from them; the shapes it uses are declared below.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Pool } from 'undici';

const DIST = new URL('../../dist/', import.meta.url);
const load = <T>(path: string): Promise<T> => import(new URL(path, DIST).href) as Promise<T>;

interface MoongateError extends Error {
  code: string;
}
interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
}
interface Model {
  id: string;
  thinking: boolean;
}
interface ChatRequest {
  model: string;
  messages: unknown[];
  stream: boolean;
}
interface Caller {
  credentialId: string;
  personId: string;
  limits?: { rps: number | null; concurrency: number | null };
  personLimits?: { rps: number | null; concurrency: number | null };
}
interface Limits {
  rps: number;
  concurrency: number;
}
type Decision = { admitted: true; permit: { release(): void } } | { admitted: false; retryAfter: number };
interface Hold {
  settle(result: object): Promise<void>;
}

const contract = await load<{
  parseChatRequest(body: unknown): ChatRequest;
  checkAgainstModel(request: ChatRequest, model: Model): { request: ChatRequest; mediaTokens: number };
  BUILT_IN_LOOKUP: unknown;
  makeUsage(prompt: number, completion: number, cached?: number, written?: number): Usage;
  newCompletionId(): string;
  asMoongateError(error: unknown): MoongateError & { status: number };
  errorEnvelope(error: MoongateError, traceId: string): unknown;
  MoongateError: new (code: string) => MoongateError;
}>('contract/index.js');
const { resolveModel } = await load<{ resolveModel(lookup: unknown, id: string): Model }>('gateway/chat-gateway.js');
const { PromptFigure } = await load<{
  PromptFigure: { of(request: ChatRequest, model: Model): { tokens: number; checkContext(): void; completionCap(): number } };
}>('gateway/prompt-tokens.js');
const { CompletionBuilder } = await load<{
  CompletionBuilder: new (
    id: string,
    created: number,
    model: string,
    thinking: boolean,
    n: number,
  ) => {
    addDelta(event: { type: 'delta'; index: number; content?: string }): void;
    finish(index: number, reason: string): void;
    build(usage: Usage): unknown;
  };
}>('gateway/completion-builder.js');
const { openStore } = await load<{ openStore(options: { dataDir: string }): Promise<object> }>('store/open-store.js');
const { startBilling } = await load<{
  startBilling(store: object, settings: object, onError: (error: unknown) => void): Promise<{ admitter: { admit(ticket: object): Promise<Hold> }; close(): Promise<void> }>;
}>('billing/start-billing.js');
const { authenticate } = await load<{
  authenticate(authorization: string | undefined, service: string, store: object, now: number, cache: object): Promise<Caller>;
}>('accounts/authenticate.js');
const { CredentialCache } = await load<{ CredentialCache: new () => object }>('accounts/credential-cache.js');
const { MemoryRequestLimiter } = await load<{
  MemoryRequestLimiter: new () => { acquire(key: string, limits: Limits, shared: { key: string; limits: Limits }): Promise<Decision> };
}>('limits/memory-request-limiter.js');
const { DEFAULT_REQUEST_LIMITS, DEFAULT_PERSON_LIMITS } = await load<{ DEFAULT_REQUEST_LIMITS: Limits; DEFAULT_PERSON_LIMITS: Limits }>(
  'limits/request-limiter.js',
);
const { Metrics } = await load<{ Metrics: new () => { observer(record: object): void } }>('observability/metrics.js');
const { KIMI_SERVICE } = await load<{ KIMI_SERVICE: { slug: string } }>('store/seed-services.js');

const dataDir = process.env.DATA_DIR;
const config = process.env.MOONGATE_CONFIG;
if (dataDir === undefined || config === undefined) throw new Error('DATA_DIR and MOONGATE_CONFIG are required (bench/src/moongate-process.ts sets them)');
const channel = (JSON.parse(await readFile(config, 'utf8')) as { channels: { baseUrl: string; apiKey: string }[] }).channels[0];
if (channel === undefined) throw new Error(`${config} names no channel`);
const upstream = new URL(channel.baseUrl);
const upstreamPath = `${upstream.pathname.replace(/\/$/, '')}/chat/completions`;
const upstreamHeaders = { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${channel.apiKey}` };

const store = await openStore({ dataDir });
const billing = await startBilling(store, {}, () => undefined);
const credentials = new CredentialCache();
const limiter = new MemoryRequestLimiter();
const metrics = new Metrics();
// As moongate writes its access line: stdout in pieces of 4 KB or every 250 ms, a child without redaction.
const logger = pino({ level: 'info' }, pino.destination({ dest: 1, minLength: 4096, periodicFlush: 250 }));
const lines = logger.child({}, { redact: [] });
const pool = new Pool(upstream.origin, { keepAliveTimeout: 30_000 });
let sequence = 0;

/**
 * Steps to leave out, to measure what each costs (`WORK_FLOOR_SKIP=count+log`, '+' between
 * names since ab-compare's --a-env takes ','): credential (the first request's caller for all), limits, validate
 * (the parsed body taken as it is), count (a fixed figure and cap), hold (and its
 * settlement), settle (the hold kept, never settled), metrics, log.
 */
const STEPS = ['credential', 'limits', 'validate', 'count', 'hold', 'settle', 'metrics', 'log'] as const;
const skip = new Set((process.env.WORK_FLOOR_SKIP ?? '').split('+').filter((step) => step !== ''));
for (const step of skip) if (!(STEPS as readonly string[]).includes(step)) throw new Error(`WORK_FLOOR_SKIP: no step ${step}; the steps: ${STEPS.join(', ')}`);
/** With `credential` skipped: the caller the first request's token named, for every request after it. */
let firstCaller: Caller | undefined;
const NO_HOLD: Hold = { settle: () => Promise.resolve() };
const NO_LIMIT: Decision = { admitted: true, permit: { release: () => undefined } };

/** A body read whole, as the lean floor reads both of its bodies: its pieces gathered, one string at the end. */
function readWhole(body: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    body.on('data', (part: Buffer) => parts.push(part));
    body.on('end', () => resolve((parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts)).toString('utf8')));
    body.on('error', reject);
  });
}

interface Served {
  model: string;
  usage: Usage;
}

async function serve(req: IncomingMessage, res: ServerResponse, traceId: string, startedAt: number): Promise<Served> {
  const caller =
    skip.has('credential') && firstCaller !== undefined
      ? firstCaller
      : (firstCaller = await authenticate(req.headers.authorization, KIMI_SERVICE.slug, store, Date.now(), credentials));
  const admittedAt = Date.now();
  const decision = skip.has('limits')
    ? NO_LIMIT
    : await limiter.acquire(
    caller.credentialId,
    { rps: caller.limits?.rps ?? DEFAULT_REQUEST_LIMITS.rps, concurrency: caller.limits?.concurrency ?? DEFAULT_REQUEST_LIMITS.concurrency },
    {
      key: caller.personId,
      limits: {
        rps: caller.personLimits?.rps ?? DEFAULT_PERSON_LIMITS.rps,
        concurrency: caller.personLimits?.concurrency ?? DEFAULT_PERSON_LIMITS.concurrency,
      },
    },
  );
  if (!decision.admitted) throw new contract.MoongateError('too_many_requests');
  try {
    const raw = JSON.parse(await readWhole(req)) as ChatRequest;
    const parsed = skip.has('validate') ? { ...raw, stream: false, n: 1 } : contract.parseChatRequest(raw);
    const model = resolveModel(contract.BUILT_IN_LOOKUP, parsed.model);
    const { request: asked, mediaTokens } = skip.has('validate') ? { request: parsed, mediaTokens: 0 } : contract.checkAgainstModel(parsed, model);
    let promptTokens = 9;
    let cap = 1024;
    if (!skip.has('count')) {
      const prompt = PromptFigure.of(asked, model);
      prompt.checkContext();
      promptTokens = prompt.tokens;
      cap = prompt.completionCap();
    }
    const request = { ...asked, max_tokens: cap };
    const hold = skip.has('hold') ? NO_HOLD : await billing.admitter.admit({ traceId, caller, admittedAt, model, request, promptTokens: promptTokens + mediaTokens });
    const answer = await pool.request({
      method: 'POST',
      path: upstreamPath,
      headers: upstreamHeaders,
      body: JSON.stringify({ model: model.id, messages: request.messages, stream: false, max_tokens: request.max_tokens }),
    });
    const completion = JSON.parse(await readWhole(answer.body)) as {
      choices: { index: number; message: { content: string }; finish_reason: string }[];
      usage: Usage;
    };
    const builder = new CompletionBuilder(contract.newCompletionId(), Math.floor(Date.now() / 1000), request.model, model.thinking, 1);
    for (const choice of completion.choices) {
      builder.addDelta({ type: 'delta', index: choice.index, content: choice.message.content });
      builder.finish(choice.index, choice.finish_reason);
    }
    const usage = contract.makeUsage(completion.usage.prompt_tokens, completion.usage.completion_tokens);
    const body = JSON.stringify(builder.build(usage));
    const result = { outcome: 'completed', usage, error: null, channel: 'fake', stream: false, ttftMs: 0, durationMs: performance.now() - startedAt };
    if (!skip.has('settle')) await hold.settle(result);
    if (!skip.has('metrics')) metrics.observer({ traceId, model: model.id, caller, ...result });
    res.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'x-trace-id': traceId,
      'x-content-type-options': 'nosniff',
    });
    res.end(body);
    return { model: model.id, usage };
  } finally {
    decision.permit.release();
  }
}

const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  const traceId = `req-${(++sequence).toString(36)}`;
  const startedAt = performance.now();
  void serve(req, res, traceId, startedAt)
    .catch((error: unknown): undefined => {
      const failure = contract.asMoongateError(error);
      const body = JSON.stringify(contract.errorEnvelope(failure, traceId));
      if (!res.headersSent) res.writeHead(failure.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return undefined;
    })
    .then((served) => {
      if (skip.has('log')) return;
      lines.info(
        {
          trace_id: traceId,
          method: req.method,
          path: req.url,
          status: res.statusCode,
          duration_ms: Math.round((performance.now() - startedAt) * 10) / 10,
          model: served?.model,
          prompt_tokens: served?.usage.prompt_tokens,
          completion_tokens: served?.usage.completion_tokens,
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
  void pool
    .close()
    .then(() => billing.close())
    .finally(() => process.exit(0));
});
