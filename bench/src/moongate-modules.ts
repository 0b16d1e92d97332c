/**
 * moongate's own modules, loaded from its build (`dist/`, `npm run build`) by path, for the
 * bench's instruments that run moongate's code without its server: the work floor
 * (work-floor.ts) and the step timings (step-costs.ts). The bench compiles apart from
 * src/, so the shapes it uses are declared here, no more of them than it calls.
 */
const DIST = new URL('../../dist/', import.meta.url);
const load = <T>(path: string): Promise<T> => import(new URL(path, DIST).href) as Promise<T>;

export interface MoongateError extends Error {
  code: string;
  status: number;
  retryAfter?: number;
}
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
}
export interface Model {
  id: string;
  thinking: boolean;
}
export interface ChatRequest {
  model: string;
  n: number;
  stream: boolean;
}
export type ChatEvent =
  | { type: 'delta'; index: number; content?: string; reasoning?: string }
  | { type: 'finish'; index: number; reason: string }
  | { type: 'usage'; promptTokens: number; completionTokens: number; cachedTokens?: number; cacheWriteTokens?: number };
/** moongate's light AbortController (contract/call-abort.ts). */
export interface CallAbort {
  readonly signal: {
    addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
    removeEventListener(type: 'abort', listener: () => void): void;
  };
  abort(reason?: unknown): void;
}
/** Who is calling, as `authenticate` found them; the work floor only passes it on. */
export type Caller = object;
export interface CallerPass {
  caller: Caller;
  admittedAt: number;
  release(): void;
}
export interface Hold {
  settle(result: object): Promise<void>;
}

export const contract = await load<{
  parseChatRequest(body: unknown): ChatRequest;
  checkAgainstModel(request: ChatRequest, model: Model): { request: ChatRequest; mediaTokens: number };
  parseJsonBody(body: Buffer): unknown;
  BUILT_IN_LOOKUP: unknown;
  makeUsage(prompt: number, completion: number, cached?: number, written?: number): Usage;
  newCompletionId(): string;
  newTraceId(): string;
  asMoongateError(error: unknown): MoongateError;
  errorEnvelope(error: MoongateError, traceId: string): unknown;
  MoongateError: new (code: string, message?: string, options?: { retryAfter?: number }) => MoongateError;
  CallAbort: new () => CallAbort;
}>('contract/index.js');
export const { resolveModel, ChatGateway } = await load<{
  resolveModel(lookup: unknown, id: string): Model | Promise<Model>;
  ChatGateway: new (options: {
    authenticate: (authorization: string | undefined, service: string) => Promise<Caller>;
    limiter?: object;
    router: object;
    observers: ((record: object) => void)[];
  }) => {
    admitCaller(authorization: string | undefined, service: string, traceId: string): Promise<CallerPass>;
  };
}>('gateway/chat-gateway.js');
export const { PromptFigure } = await load<{
  PromptFigure: { of(request: ChatRequest, model: Model): { tokens: number; count(): number; checkContext(): void; completionCap(): number } };
}>('gateway/prompt-tokens.js');
export const { CompletionBuilder } = await load<{
  CompletionBuilder: new (
    id: string,
    created: number,
    model: string,
    thinking: boolean,
    n: number,
  ) => {
    addDelta(event: ChatEvent & { type: 'delta' }): void;
    finish(index: number, reason: string): void;
    build(usage: Usage): unknown;
  };
}>('gateway/completion-builder.js');
export const { OpenAICompatibleProvider } = await load<{
  OpenAICompatibleProvider: new (options: { baseUrl: string; apiKey?: string }) => {
    complete(call: { request: ChatRequest; model: Model; upstreamModel: string; promptTokens: number; signal: object; onAccepted?: () => void }): Promise<ChatEvent[]>;
  };
}>('providers/openai-compatible/openai-compatible-provider.js');
export const { openStore } = await load<{ openStore(options: { dataDir: string }): Promise<{ close(): Promise<void> }> }>('store/open-store.js');
export const { startBilling } = await load<{
  startBilling(store: object, settings: object, onError: (error: unknown) => void): Promise<{ admitter: { admit(ticket: object): Promise<Hold> }; close(): Promise<void> }>;
}>('billing/start-billing.js');
export const { authenticate } = await load<{
  authenticate(authorization: string | undefined, service: string, store: object, now: number, cache: object): Promise<Caller>;
}>('accounts/authenticate.js');
export const { CredentialCache } = await load<{ CredentialCache: new () => object }>('accounts/credential-cache.js');
export const { MemoryRequestLimiter } = await load<{ MemoryRequestLimiter: new () => { close(): void } }>('limits/memory-request-limiter.js');
export const { Metrics } = await load<{ Metrics: new () => { observer(record: object): void } }>('observability/metrics.js');
export const { KIMI_SERVICE } = await load<{ KIMI_SERVICE: { slug: string } }>('store/seed-services.js');
