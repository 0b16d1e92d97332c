/**
 * What each of the work floor's steps costs on its own: each run `--n` times in this one
 * process on moongate's compiled modules (moongate-modules.ts), against a fresh data
 * directory with the bench's credential, and timed with `process.cpuUsage()` (this process's
 * CPU, its threads included). The request is the bench's "Hello". A figure is CPU per call,
 * after a warm-up of as many calls (the first thousands of calls of a step can cost ten times
 * the rest: the JIT, a UUID's entropy cache); nothing runs beside it, so it is steadier than a
 * load test's, and tells nothing of what the steps cost together (docs/benchmark.md, "Where
 * the time goes").
 *
 *   npm run build && npm run bench:build
 *   node bench/dist/step-costs.js [--n 20000] [--json]
 */
import { openSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { requestBody } from './bench-context.js';
import * as moongate from './moongate-modules.js';
import { benchCredential } from './moongate-process.js';
import { BENCH_MODEL, completionJson } from './seed-replies.js';

const { values } = parseArgs({ options: { n: { type: 'string', default: '20000' }, json: { type: 'boolean', default: false } } });
const N = Number(values.n);
if (!Number.isInteger(N) || N < 1) throw new Error(`--n must be a positive integer, not ${JSON.stringify(values.n)}`);

interface Step {
  step: string;
  usPerCall: number;
}

/**
 * CPU per call of `run`, called `n` times (awaited when it returns a promise): one after
 * another, or `together` at a time (Promise.all), `n / together` rounds of them.
 */
async function time(step: string, run: () => unknown, n = N, together = 1): Promise<Step> {
  const rounds = Math.max(1, Math.round(n / together));
  const round = async (): Promise<void> => {
    if (together === 1) await run();
    else await Promise.all(Array.from({ length: together }, run));
  };
  for (let i = 0; i < rounds; i++) await round();
  const before = process.cpuUsage();
  for (let i = 0; i < rounds; i++) await round();
  const used = process.cpuUsage(before);
  return { step, usPerCall: (used.user + used.system) / (rounds * together) };
}

const dir = await mkdtemp(join(tmpdir(), 'moongate-step-costs-'));
try {
  const dataDir = join(dir, 'data');
  const authorization = `Bearer ${await benchCredential(dataDir)}`;
  const store = await moongate.openStore({ dataDir });
  const billing = await moongate.startBilling(store, { retentionDays: 90 }, () => undefined);
  const credentials = new moongate.CredentialCache();
  const metrics = new moongate.Metrics();
  const limiter = new moongate.MemoryRequestLimiter();
  const admission = new moongate.ChatGateway({
    authenticate: (header, service) => moongate.authenticate(header, service, store, Date.now(), credentials),
    limiter,
    router: {},
    observers: [metrics.observer],
  });
  // The access line as moongate writes it, to /dev/null (work-floor.ts writes it to stdout).
  const lines = pino({ level: 'info' }, pino.destination({ dest: openSync('/dev/null', 'w'), minLength: 4096, periodicFlush: 250 })).child({}, { redact: [] });

  const body = Buffer.from(requestBody(false));
  const caller = await moongate.authenticate(authorization, moongate.KIMI_SERVICE.slug, store, Date.now(), credentials);
  const model = await moongate.resolveModel(moongate.contract.BUILT_IN_LOOKUP, BENCH_MODEL);
  const parsed = moongate.contract.parseChatRequest(JSON.parse(body.toString('latin1')));
  const request: moongate.ChatRequest & { max_tokens: number } = { ...moongate.contract.checkAgainstModel(parsed, model).request, max_tokens: 1024 };
  const completion = completionJson('chatcmpl-step', 1);
  const content = (JSON.parse(completion) as { choices: { message: { content: string } }[] }).choices[0]?.message.content ?? '';
  const usage = moongate.contract.makeUsage(9, 20);
  const result = { outcome: 'completed', usage, error: null, channel: 'fake', stream: false, ttftMs: 1.2, durationMs: 1.4 };
  // Each hold has its own trace id: the usage row's key (created_at, trace_id) must be new.
  const holdAndSettle = async (): Promise<void> => {
    const hold = await billing.admitter.admit({ traceId: moongate.contract.newTraceId(), caller, admittedAt: Date.now(), model, request, promptTokens: 9 });
    await hold.settle(result);
  };
  const kept: unknown[] = [];
  const keep = (value: unknown): void => {
    kept[kept.length & 1023] = value;
  };
  const noop = (): void => undefined;

  const steps: Step[] = [];
  const add = async (step: Promise<Step>): Promise<void> => {
    const done = await step;
    steps.push(done);
    if (!values.json) console.log(`${done.step.padEnd(64)} ${done.usPerCall.toFixed(2).padStart(8)} µs`);
  };
  if (!values.json) console.log(`CPU per call, ${N} calls each (node ${process.version}):`);
  await add(time('the trace id (a UUID)', () => moongate.contract.newTraceId()));
  await add(time('the credential, cached (authenticate)', () => moongate.authenticate(authorization, moongate.KIMI_SERVICE.slug, store, Date.now(), credentials)));
  await add(
    time('the credential and both limits (admitCaller)', async () => {
      const pass = await admission.admitCaller(authorization, moongate.KIMI_SERVICE.slug, 'step-costs');
      pass.release();
    }),
  );
  await add(
    time('the body: decoded, JSON.parse, source kept (parseJsonBody)', () => keep(moongate.contract.parseJsonBody(body))),
  );
  const raw: unknown = JSON.parse(body.toString('latin1'));
  await add(
    time('parseChatRequest, the model, checkAgainstModel', async () => {
      const asked = moongate.contract.parseChatRequest(raw);
      keep(moongate.contract.checkAgainstModel(asked, await moongate.resolveModel(moongate.contract.BUILT_IN_LOOKUP, asked.model)));
    }),
  );
  await add(
    time('the count, context check and cap (PromptFigure)', () => {
      const prompt = moongate.PromptFigure.of(parsed, model);
      prompt.checkContext();
      keep(prompt.completionCap());
    }),
  );
  await add(time('the hold (in memory)', async () => keep(await billing.admitter.admit({ traceId: moongate.contract.newTraceId(), caller, admittedAt: Date.now(), model, request, promptTokens: 9 }))));
  await add(time('the hold and its settlement, 32 at once (one transaction)', holdAndSettle, N, 32));
  await add(time('the hold and its settlement, one alone', holdAndSettle, Math.max(1, Math.round(N / 10))));
  await add(time("the upstream's completion parsed (JSON.parse)", () => keep(JSON.parse(completion))));
  await add(
    time('the answer built and serialised (CompletionBuilder)', () => {
      const builder = new moongate.CompletionBuilder(moongate.contract.newCompletionId(), 1, BENCH_MODEL, false, 1);
      builder.addDelta({ type: 'delta', index: 0, content });
      builder.finish(0, 'stop');
      keep(JSON.stringify(builder.build(usage)));
    }),
  );
  await add(time('the metrics observer', () => metrics.observer({ traceId: 'step-costs', model: model.id, caller, ...result })));
  await add(
    time('the access line (pino, to /dev/null)', () =>
      lines.info({ trace_id: 'c1d0c9a8-2b7e-4b0e-9d1b-2d8c8f4c7a11', method: 'POST', path: '/kimi/chat/completions', status: 200, duration_ms: 1.2, model: BENCH_MODEL, prompt_tokens: 9, completion_tokens: 20 }, 'request'),
    ),
  );
  await add(
    time('an AbortSignal made, a listener added and removed', () => {
      const controller = new AbortController();
      controller.signal.addEventListener('abort', noop, { once: true });
      controller.signal.removeEventListener('abort', noop);
      keep(controller.signal);
    }),
  );
  await add(
    time("moongate's CallAbort, a listener added and removed", () => {
      const controller = new moongate.contract.CallAbort();
      controller.signal.addEventListener('abort', noop, { once: true });
      controller.signal.removeEventListener('abort', noop);
      keep(controller.signal);
    }),
  );
  if (values.json) console.log(JSON.stringify({ node: process.version, calls: N, steps }));
  await billing.close();
  await store.close();
  limiter.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}
