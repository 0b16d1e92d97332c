/**
 * A fault-injecting OpenAI-compatible upstream: a real node:http server on port 0 that
 * answers each request with the next scripted behaviour (or the fallback), and counts its
 * sockets and unfinished responses so tests can prove nothing leaked.
 *
 * Behaviours: `ok` (a complete stream), `status` (an error status, e.g. 500, or 429 with
 * retry-after), `hang-headers` (never answers), `cut` (the first chunk, then the socket is
 * destroyed), `malformed` (a broken `data:` line, first or after the first chunk), `drip`
 * (a valid stream one byte per `dripMs`, from the start or after the first chunk), `slow`
 * (headers at once, the stream after `delayMs`). `FaultUpstream.refusingUrl()` gives a base
 * URL where nothing listens (connection refused).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Fault =
  | { kind: 'ok'; text?: string; usage?: boolean }
  | { kind: 'status'; status: number; retryAfter?: number }
  | { kind: 'hang-headers' }
  | { kind: 'cut' }
  | { kind: 'malformed'; at: 'first' | 'after-first' }
  | { kind: 'drip'; dripMs: number; from: 'start' | 'after-first' }
  | { kind: 'slow'; delayMs: number }
  | { kind: 'hang-after-first' };

export const PROMPT_TOKENS_REPORTED = 9;

function chunk(delta: Record<string, unknown>, finish: string | null = null): string {
  const body = {
    id: 'chatcmpl-upstream',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'upstream-model',
    choices: [{ index: 0, delta, finish_reason: finish }],
  };
  return `data: ${JSON.stringify(body)}\n\n`;
}

/** The first event a client may see: the role chunk and the first word. */
export function firstChunk(text = 'Hello'): string {
  return chunk({ role: 'assistant', content: text.split(' ')[0] ?? text });
}

/** A whole stream: `text` word by word, stop, usage (when asked), [DONE]. */
export function wholeStream(text = 'Hello from upstream', usage = true): string {
  const words = text.split(' ');
  let out = firstChunk(text);
  for (const word of words.slice(1)) out += chunk({ content: ` ${word}` });
  out += chunk({}, 'stop');
  if (usage) {
    out += `data: ${JSON.stringify({ id: 'chatcmpl-upstream', object: 'chat.completion.chunk', created: 1, model: 'upstream-model', choices: [], usage: { prompt_tokens: PROMPT_TOKENS_REPORTED, completion_tokens: words.length, total_tokens: PROMPT_TOKENS_REPORTED + words.length } })}\n\n`;
  }
  return `${out}data: [DONE]\n\n`;
}

const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' };
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class FaultUpstream {
  /** Requests received, in order (the `model` of each body). */
  readonly requests: string[] = [];
  /** The authorization header of each request. */
  readonly authorizations: (string | undefined)[] = [];
  /** Sockets open right now. */
  openSockets = 0;
  /** Responses neither finished nor closed: an upstream call someone still holds. */
  activeResponses = 0;
  /** Responses whose connection closed before they finished. */
  cuts = 0;
  fallback: Fault = { kind: 'ok' };
  private readonly queue: Fault[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly waiters: Array<() => void> = [];

  private constructor(private readonly server: Server) {}

  static async start(fallback: Fault = { kind: 'ok' }): Promise<FaultUpstream> {
    const server = createServer();
    const upstream = new FaultUpstream(server);
    upstream.fallback = fallback;
    server.on('connection', (socket: Socket) => {
      upstream.openSockets++;
      upstream.sockets.add(socket);
      socket.on('close', () => {
        upstream.openSockets--;
        upstream.sockets.delete(socket);
        upstream.notify();
      });
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void upstream.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return upstream;
  }

  /** A base URL on which nothing listens: connecting to it is refused. */
  static async refusingUrl(): Promise<string> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return `http://127.0.0.1:${port}/v1`;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  /** Queues the behaviour of the next request. */
  next(...faults: Fault[]): this {
    this.queue.push(...faults);
    return this;
  }

  /**
   * Resolves once `check` holds, re-checked whenever a socket or response ends: it waits on
   * those events, never on a clock (the test's own timeout bounds it). The label names the
   * wait for the reader of the test.
   */
  async until(check: () => boolean, _what: string): Promise<void> {
    while (!check()) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private notify(): void {
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.authorizations.push(req.headers.authorization);
    const parts: Buffer[] = [];
    for await (const part of req) parts.push(part as Buffer);
    try {
      this.requests.push(String((JSON.parse(Buffer.concat(parts).toString('utf8')) as { model?: unknown }).model));
    } catch {
      this.requests.push('?');
    }
    this.activeResponses++;
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      this.activeResponses--;
      this.notify();
    };
    res.on('close', () => {
      if (!res.writableFinished) this.cuts++;
      end();
    });
    res.on('finish', end);

    const fault = this.queue.shift() ?? this.fallback;
    const write = (text: string): boolean => !res.destroyed && res.write(text);
    switch (fault.kind) {
      case 'ok':
        res.writeHead(200, SSE_HEADERS);
        res.end(wholeStream(fault.text, fault.usage ?? true));
        return;
      case 'status': {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter);
        res.writeHead(fault.status, headers);
        res.end(JSON.stringify({ error: { type: 'server_error', message: `injected ${fault.status}` } }));
        return;
      }
      case 'hang-headers':
        return; // never answers; the client must give up
      case 'cut':
        res.writeHead(200, SSE_HEADERS);
        write(firstChunk());
        await sleep(30);
        res.socket?.destroy();
        return;
      case 'malformed':
        res.writeHead(200, SSE_HEADERS);
        if (fault.at === 'after-first') {
          write(firstChunk());
          await sleep(30);
        }
        write('data: {"choices": [ this is not json\n\n');
        await sleep(30);
        if (!res.destroyed) res.end('data: [DONE]\n\n');
        return;
      case 'drip': {
        res.writeHead(200, SSE_HEADERS);
        res.flushHeaders();
        let body = wholeStream();
        if (fault.from === 'after-first') {
          write(firstChunk());
          body = body.slice(firstChunk().length);
        }
        for (const byte of Buffer.from(body)) {
          await sleep(fault.dripMs);
          if (res.destroyed) return;
          res.write(Buffer.from([byte]));
        }
        res.end();
        return;
      }
      case 'slow':
        res.writeHead(200, SSE_HEADERS);
        res.flushHeaders();
        await sleep(fault.delayMs);
        if (!res.destroyed) res.end(wholeStream());
        return;
      case 'hang-after-first':
        res.writeHead(200, SSE_HEADERS);
        write(firstChunk());
        return; // keeps the response open until the client goes away
    }
  }
}
