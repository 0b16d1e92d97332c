/**
 * The plain gateway, run as its own process: what a gateway with moongate's duties for a
 * non-stream chat request costs when it is written plainly, as one function, with no code of
 * moongate's (docs/benchmark.md, "The plain gateway"). It is a measuring instrument, not a
 * server: it answers the bench's own request and little else, and a gateway that did only
 * this would not be moongate. What it does, per request, in moongate's order:
 *
 * 1. a trace id (a random UUID);
 * 2. the credential: SHA-256 of the bearer token, looked up in a cache in front of SQLite
 *    (a select on a miss, and again a second after), refused unless it is there, not revoked
 *    and not expired;
 * 3. the limits: a requests-per-second window and a concurrency count, for the credential and
 *    for its person, in memory;
 * 4. the body: read whole within a size limit, JSON.parse, the fields checked (the model one
 *    of the catalogue's, messages an array of objects with a role and a string content, the
 *    cap a positive whole number if given);
 * 5. the prompt's upper bound: its UTF-8 bytes (a token is at least one byte) plus SPEC.md's
 *    tokens per message and for the reply's start, the context checked, the cap set as
 *    moongate sets it (what was asked, else the default within what the context leaves);
 * 6. the hold: the bound and the cap priced and held on the wallet, in memory, refused past
 *    its balance; the wallet read again once a turn if another connection wrote (SQLite's
 *    `data_version`), as moongate's in-memory holds are;
 * 7. the upstream call: the body rebuilt (the upstream model, the messages, the cap) and sent
 *    through an undici Pool under a deadline, a non-2xx mapped to an error;
 * 8. the completion parsed, its choices and usage checked, the answer built with the gateway's
 *    own id and the model asked for;
 * 9. the settlement, awaited before the answer: the usage row (moongate's 18 columns) and the
 *    wallet's charge, never above the hold, in one SQLite transaction shared by the requests
 *    that finished in the same turn; a request that fails once held is settled too (billed
 *    nothing here: this gateway does not know whether the upstream took it);
 * 10. the metrics (prom-client: requests, a duration histogram and the tokens) and one access
 *    line (pino);
 * 11. the answer with its length and the trace id, or SPEC.md's error envelope.
 *
 * What it leaves out of moongate's duties, besides everything but a non-stream request: the
 * exact token count (the issue allows an upper bound for the hold; this one is bytes, coarser
 * than moongate's), failover across channels and the circuit breaker, early ends, the upstream
 * error's mapping. A review (2026-12-06) put what it skips or does more cheaply at 3 to 8 µs a
 * request; it batches settlements over one turn where moongate gathers up to four, which
 * makes it dearer, not cheaper.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { Counter, Histogram, Registry } from 'prom-client';
import { Pool } from 'undici';
import { PLAIN_GATEWAY_TOKEN, type ReadyMessage } from './child-messages.js';
import { readWholeBody } from './read-body.js';

const upstream = process.env.BENCH_UPSTREAM_ORIGIN;
if (upstream === undefined) throw new Error('BENCH_UPSTREAM_ORIGIN is required');
const pool = new Pool(upstream, { keepAliveTimeout: 30_000, headersTimeout: 900_000, bodyTimeout: 900_000 });
const UPSTREAM_HEADERS = { 'content-type': 'application/json', accept: 'application/json', authorization: 'Bearer bench' };
const MAX_BODY_BYTES = 16 * 1024 * 1024;
/** moongate's: the models' context, and the cap when the request names none (SPEC.md). */
const CONTEXT = 262_144;
const DEFAULT_CAP = 8_192;
/** How long a credential read from the store is trusted, as moongate's cache (1 s). */
const CREDENTIAL_TTL_MS = 1_000;
/** Micro-units per token, as moongate's price list keeps them: input, output. */
const PRICES: Record<string, { input: number; output: number; upstream: string }> = {
  'kimi-k2-0905-preview': { input: 600, output: 2500, upstream: 'kimi-k2-0905-preview' },
  'kimi-k2-turbo-preview': { input: 1150, output: 8000, upstream: 'kimi-k2-turbo-preview' },
};

const dir = mkdtempSync(join(tmpdir(), 'plain-gateway-'));
const db = new Database(join(dir, 'plain.sqlite'));
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec(`
  create table credentials (hash text primary key, id text not null, person_id text not null, wallet_id text not null,
    revoked integer not null, expires_at integer);
  create table wallets (id text primary key, amount integer not null, held integer not null);
  create table usage (trace_id text not null, created_at integer not null, person_id text not null, credential_id text not null,
    service_id text not null, wallet_id text, model text not null, stream text not null, status text not null, error_code text,
    prompt_tokens integer not null, cached_tokens integer not null, cache_write_tokens integer not null,
    completion_tokens integer not null, cost integer not null, duration_ms integer not null, ttft_ms integer, channel text,
    primary key (created_at, trace_id));
  create index usage_person_time on usage (person_id, created_at);
`);
db.prepare('insert into credentials values (?, ?, ?, ?, 0, null)').run(sha256(PLAIN_GATEWAY_TOKEN), 'c1', 'p1', 'w1');
db.prepare('insert into wallets values (?, ?, 0)').run('w1', 1e15);
const selectCredential = db.prepare<[string], { id: string; person_id: string; wallet_id: string; revoked: number; expires_at: number | null }>(
  'select id, person_id, wallet_id, revoked, expires_at from credentials where hash = ?',
);
const selectWallet = db.prepare<[string], { amount: number }>('select amount from wallets where id = ?');
const dataVersion = db.prepare('pragma data_version').pluck();
const insertUsage = db.prepare('insert into usage values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
const charge = db.prepare('update wallets set amount = amount - ?, held = ? where id = ?');

interface Caller {
  id: string;
  personId: string;
  walletId: string;
  /** Read from the store again after this (ms since the epoch). */
  until: number;
}
interface Wallet {
  amount: number;
  held: number;
}
interface Pending {
  row: unknown[];
  walletId: string;
  cost: number;
  hold: number;
  done: () => void;
}

const credentials = new Map<string, Caller>();
const wallets = new Map<string, Wallet>();
/** Per key (a credential or a person): the admission times of the last second, and what runs. */
const windows = new Map<string, { times: number[]; running: number }>();
const RPS = 1_000_000;
const CONCURRENCY = 100_000;

let pending: Pending[] = [];
const commit = db.transaction((batch: Pending[]) => {
  const costs = new Map<string, number>();
  for (const settlement of batch) {
    insertUsage.run(settlement.row);
    costs.set(settlement.walletId, (costs.get(settlement.walletId) ?? 0) + settlement.cost);
  }
  for (const [walletId, cost] of costs) charge.run(cost, 0, walletId);
});
function flush(): void {
  const batch = pending;
  pending = [];
  try {
    commit(batch);
  } catch (error) {
    // An instrument, not a server: the batch is given up, its requests answered all the same.
    logger.error({ err: error }, 'settlement failed');
  }
  for (const settlement of batch) {
    const wallet = wallets.get(settlement.walletId);
    if (wallet !== undefined) {
      wallet.amount -= settlement.cost;
      wallet.held -= settlement.hold;
    }
    settlement.done();
  }
}
function settle(settlement: Omit<Pending, 'done'>): Promise<void> {
  return new Promise((done) => {
    if (pending.length === 0) setImmediate(flush);
    pending.push({ ...settlement, done });
  });
}

const registry = new Registry();
const requests = new Counter({ name: 'plain_requests_total', help: 'requests', labelNames: ['model', 'status'], registers: [registry] });
const durations = new Histogram({ name: 'plain_request_seconds', help: 'duration', labelNames: ['model'], registers: [registry] });
const tokens = new Counter({ name: 'plain_tokens_total', help: 'tokens', labelNames: ['model', 'kind'], registers: [registry] });
const logger = pino({ level: 'info' }, pino.destination({ dest: 1, minLength: 4096 }));

/** An error answered in SPEC.md's envelope. */
class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function sha256(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function authenticate(authorization: string | undefined, now: number): Caller {
  if (authorization?.startsWith('Bearer ') !== true) throw new Refusal(400, 'no_token', 'a bearer token is required');
  const hash = sha256(authorization.slice(7));
  let caller = credentials.get(hash);
  if (caller === undefined || caller.until <= now) {
    const row = selectCredential.get(hash);
    if (row === undefined || row.revoked !== 0 || (row.expires_at !== null && row.expires_at <= now)) {
      credentials.delete(hash);
      throw new Refusal(401, 'invalid_token', 'the token is not valid');
    }
    caller = { id: row.id, personId: row.person_id, walletId: row.wallet_id, until: now + CREDENTIAL_TTL_MS };
    credentials.set(hash, caller);
  }
  return caller;
}

/** The wallets' amounts, read again when another connection wrote since this turn's first look. */
let seenVersion: unknown;
let lookedThisTurn = false;
function walletOf(walletId: string): Wallet {
  if (!lookedThisTurn) {
    lookedThisTurn = true;
    setImmediate(() => {
      lookedThisTurn = false;
    });
    const version = dataVersion.get();
    if (version !== seenVersion) {
      seenVersion = version;
      for (const [id, wallet] of wallets) wallet.amount = selectWallet.get(id)?.amount ?? 0;
    }
  }
  let wallet = wallets.get(walletId);
  if (wallet === undefined) {
    wallet = { amount: selectWallet.get(walletId)?.amount ?? 0, held: 0 };
    wallets.set(walletId, wallet);
  }
  return wallet;
}

function admit(key: string, now: number): void {
  let window = windows.get(key);
  if (window === undefined) {
    window = { times: [], running: 0 };
    windows.set(key, window);
  }
  while (window.times.length > 0 && (window.times[0] as number) <= now - 1000) window.times.shift();
  if (window.times.length >= RPS || window.running >= CONCURRENCY) throw new Refusal(429, 'too_many_requests', 'too many requests');
  window.times.push(now);
  window.running++;
}

function release(key: string): void {
  const window = windows.get(key);
  if (window !== undefined) window.running--;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return readWholeBody(req, MAX_BODY_BYTES, () => new Refusal(413, 'bad_request', 'the request body is too large'));
}

interface Message {
  role: string;
  content: string;
}

function parseRequest(body: Buffer): { model: string; messages: Message[]; cap: number | undefined } {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new Refusal(400, 'bad_request', 'the body is not JSON');
  }
  if (typeof value !== 'object' || value === null) throw new Refusal(400, 'bad_request', 'the body must be an object');
  const { model, messages, max_tokens: cap } = value as { model?: unknown; messages?: unknown; max_tokens?: unknown };
  if (typeof model !== 'string') throw new Refusal(400, 'bad_request', 'model must be a string');
  if (PRICES[model] === undefined) throw new Refusal(404, 'model_not_found', 'no such model');
  if (!Array.isArray(messages) || messages.length === 0) throw new Refusal(400, 'bad_request', 'messages must be a non-empty array');
  for (const message of messages as unknown[]) {
    const { role, content } = (message ?? {}) as { role?: unknown; content?: unknown };
    if (typeof role !== 'string' || typeof content !== 'string') throw new Refusal(400, 'bad_request', 'each message needs a role and a string content');
  }
  if (cap !== undefined && (!Number.isInteger(cap) || (cap as number) < 1 || (cap as number) > CONTEXT)) {
    throw new Refusal(400, 'bad_request', `max_tokens must be a whole number from 1 to ${CONTEXT}`);
  }
  return { model, messages: messages as Message[], cap: cap as number | undefined };
}

interface Completion {
  choices: Array<{ index: number; message: { content: string | null; refusal?: string | null; tool_calls?: unknown[] }; finish_reason: string | null }>;
  usage: { prompt_tokens: number; completion_tokens: number };
}

function checkCompletion(value: unknown): Completion {
  const completion = value as Partial<Completion> | null;
  const usage = completion?.usage;
  if (!Array.isArray(completion?.choices) || usage === undefined || !Number.isInteger(usage.prompt_tokens) || !Number.isInteger(usage.completion_tokens)) {
    throw new Refusal(500, 'api_error', 'the upstream sent a malformed completion');
  }
  return completion as Completion;
}

interface Served {
  status: number;
  model: string | undefined;
  usage: Completion['usage'] | undefined;
}

async function serve(req: IncomingMessage, res: ServerResponse, traceId: string, startedAt: number, served: Served): Promise<void> {
  const now = Date.now();
  const caller = authenticate(req.headers.authorization, now);
  admit(caller.id, now);
  try {
    admit(caller.personId, now);
  } catch (error) {
    release(caller.id);
    throw error;
  }
  try {
    const { model, messages, cap: asked } = parseRequest(await readBody(req));
    served.model = model;
    const price = PRICES[model] as (typeof PRICES)[string];
    // SPEC.md: 4 tokens a message (6 for an assistant's) and 4 for the reply's start.
    let bound = 4;
    for (const message of messages) bound += Buffer.byteLength(message.content) + (message.role === 'assistant' ? 6 : 4);
    if (bound >= CONTEXT && asked === undefined) throw new Refusal(400, 'bad_request', 'the prompt does not fit in the context');
    const cap = asked ?? Math.min(DEFAULT_CAP, CONTEXT - bound);
    const hold = Math.min(bound, CONTEXT) * price.input + cap * price.output;
    const wallet = walletOf(caller.walletId);
    if (wallet.amount - wallet.held < hold) throw new Refusal(402, 'used_up', 'the balance is used up');
    wallet.held += hold;
    let completion: Completion;
    try {
      const answer = await pool.request({
        method: 'POST',
        path: '/v1/chat/completions',
        headers: UPSTREAM_HEADERS,
        body: JSON.stringify({ model: price.upstream, messages: messages.map((m) => ({ role: m.role, content: m.content })), stream: false, max_tokens: cap }),
      });
      if (answer.statusCode < 200 || answer.statusCode > 299) {
        await answer.body.dump();
        throw new Refusal(502, 'api_error', `the upstream answered ${answer.statusCode}`);
      }
      completion = checkCompletion(await answer.body.json());
    } catch (error) {
      // Settled like every held request; this gateway bills nothing for a failure.
      const code = error instanceof Refusal ? error.code : 'api_error';
      await settle({ row: usageRow(traceId, now, caller, model, 'failed', code, 0, 0, 0, startedAt), walletId: caller.walletId, cost: 0, hold });
      throw error;
    }
    const { usage } = completion;
    const cost = Math.min(hold, usage.prompt_tokens * price.input + usage.completion_tokens * price.output);
    const body = JSON.stringify({
      id: completionId(),
      object: 'chat.completion',
      created: Math.floor(now / 1000),
      model,
      choices: completion.choices.map((choice) => ({
        index: choice.index,
        message: { role: 'assistant', content: choice.message.content ?? '', refusal: choice.message.refusal ?? null, tool_calls: choice.message.tool_calls ?? [] },
        logprobs: null,
        finish_reason: choice.finish_reason ?? 'stop',
      })),
      usage: {
        prompt_tokens: usage.prompt_tokens,
        completion_tokens: usage.completion_tokens,
        total_tokens: usage.prompt_tokens + usage.completion_tokens,
        prompt_tokens_details: { cached_tokens_details: {} },
        completion_tokens_details: {},
      },
    });
    await settle({
      row: usageRow(traceId, now, caller, model, 'completed', null, usage.prompt_tokens, usage.completion_tokens, cost, startedAt),
      walletId: caller.walletId,
      cost,
      hold,
    });
    served.usage = usage;
    answer(res, 200, body, traceId);
  } finally {
    release(caller.id);
    release(caller.personId);
  }
}

/**
 * The completion's id from a pool of random bytes, as any gateway would make it: a
 * `randomBytes` call per request cost 17 µs (a tenth of this gateway's CPU per request,
 * 2026-12-06 14:00), which made this instrument dearer than the duties it stands for.
 */
let idPool = Buffer.alloc(0);
let idOffset = 0;
function completionId(): string {
  if (idOffset + 8 > idPool.length) {
    idPool = randomBytes(4096);
    idOffset = 0;
  }
  idOffset += 8;
  return `chatcmpl-${idPool.toString('hex', idOffset - 8, idOffset)}`;
}

function usageRow(
  traceId: string,
  now: number,
  caller: Caller,
  model: string,
  status: string,
  errorCode: string | null,
  promptTokens: number,
  completionTokens: number,
  cost: number,
  startedAt: number,
): unknown[] {
  const durationMs = Math.round(performance.now() - startedAt);
  return [traceId, now, caller.personId, caller.id, 'kimi', caller.walletId, model, 'false', status, errorCode, promptTokens, 0, 0, completionTokens, cost, durationMs, durationMs, 'fake'];
}

function answer(res: ServerResponse, status: number, body: string, traceId: string): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-trace-id': traceId,
    'x-content-type-options': 'nosniff',
  });
  res.end(body);
}

const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  const traceId = randomUUID();
  const startedAt = performance.now();
  const served: Served = { status: 200, model: undefined, usage: undefined };
  serve(req, res, traceId, startedAt, served)
    .catch((error: unknown) => {
      const refusal = error instanceof Refusal ? error : new Refusal(500, 'api_error', 'internal error');
      served.status = refusal.status;
      if (res.headersSent) res.destroy();
      else answer(res, refusal.status, JSON.stringify({ success: false, error: { code: refusal.code, message: refusal.message }, trace_id: traceId }), traceId);
    })
    .finally(() => {
      const seconds = (performance.now() - startedAt) / 1000;
      const model = served.model ?? 'none';
      requests.inc({ model, status: String(served.status) });
      durations.observe({ model }, seconds);
      if (served.usage !== undefined) {
        tokens.inc({ model, kind: 'prompt' }, served.usage.prompt_tokens);
        tokens.inc({ model, kind: 'completion' }, served.usage.completion_tokens);
      }
      logger.info(
        {
          trace_id: traceId,
          method: req.method,
          path: req.url,
          status: served.status,
          duration_ms: Math.round(seconds * 10_000) / 10,
          model: served.model,
          prompt_tokens: served.usage?.prompt_tokens,
          completion_tokens: served.usage?.completion_tokens,
        },
        'request',
      );
    });
});

server.listen(0, '127.0.0.1', () => {
  const ready: ReadyMessage = { type: 'ready', port: (server.address() as AddressInfo).port };
  process.send?.(ready);
});
const stop = (): void => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
};
process.on('disconnect', stop);
process.once('SIGTERM', stop);
