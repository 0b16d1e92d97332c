/**
 * What a request body may cost before it has fully arrived (docs/security.md, "Request
 * bodies and timeouts"):
 *
 * - a deadline: the body must arrive within `timeoutMs` of the start of its reading, or
 *   the request gets 408 request_timeout;
 * - a process-wide cap: the bytes held by all bodies still arriving, each chunk counted with
 *   what Node spends on it besides its bytes, stay under `maxPendingBytes`; the body that
 *   would cross it gets 429 too_many_requests;
 * - a lingering close: an answer sent before its body fully arrived (a 401 from the chat
 *   route's onRequest, a 413, a 408, a 429) says `connection: close` (unless it was
 *   given before the body was touched and the body is 64 KiB or less by content-length: then
 *   the body is dropped and the connection kept), and the rest of the
 *   body is read and dropped, for a bounded time and size, before the connection closes.
 *   Node would otherwise close at once, and the client, still uploading, gets a reset
 *   (EPIPE, ECONNRESET) that can wipe out the answer it had not read yet.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
// Node's own, not the global one a test's fake timers may replace: a request must not wait on a fake clock.
import { setImmediate as nextTurn } from 'node:timers';
import { MoongateError } from '../contract/index.js';

/**
 * What a chunk costs beyond its bytes: Node's HTTP parser copies each body chunk into a
 * Buffer of its own (a JS object, an ArrayBuffer and its backing store), and the body
 * reader keeps them in an array until the last one. A client that sends its body a few
 * bytes at a time makes that overhead, not the bytes, the cost; measured at about 400
 * bytes a chunk on Node 20, rounded up.
 */
export const CHUNK_OVERHEAD_BYTES = 512;

/** Chunks under this are copied into Buffer's pool (which takes allocations under 4 KiB). */
const SMALL_CHUNK_BYTES = Buffer.poolSize >>> 1;

/** Runs `fn` after `ms` unless the returned function is called first (injectable for tests). */
export type Schedule = (fn: () => void, ms: number) => () => void;

const realSchedule: Schedule = (fn, ms) => {
  const timer = setTimeout(fn, ms);
  // A pending body must not keep the process alive on its own.
  timer.unref();
  return () => clearTimeout(timer);
};

export interface BodyGuardOptions {
  /** Bytes (chunk overhead included) all bodies still arriving may hold at once. */
  maxPendingBytes: number;
  /** From the start of reading a body to its last byte. */
  timeoutMs: number;
  /** After an early answer: the most of the rest of the body read and dropped before closing. */
  lingerBytes: number;
  /** After an early answer: the longest the connection stays open to drain the body. */
  lingerMs: number;
  schedule?: Schedule;
}

/** The bytes held by bodies still arriving, across the process. */
export class PendingBodyBudget {
  #held = 0;
  constructor(readonly capacity: number) {}

  get held(): number {
    return this.#held;
  }

  /** Takes `bytes` if they fit under the cap. */
  take(bytes: number): boolean {
    if (this.#held + bytes > this.capacity) return false;
    this.#held += bytes;
    return true;
  }

  give(bytes: number): void {
    this.#held -= bytes;
  }
}

/** Passes a body through unchanged, counting it against the budget, until it ends or its deadline. */
class PendingBody extends Transform {
  #held = 0;
  #settled = false;
  readonly #cancelDeadline: () => void;

  constructor(
    private readonly budget: PendingBodyBudget,
    options: Pick<BodyGuardOptions, 'timeoutMs'> & { schedule: Schedule },
  ) {
    super();
    this.#cancelDeadline = options.schedule(() => {
      this.settle();
      this.destroy(new MoongateError('request_timeout', `The request body did not arrive within ${options.timeoutMs} ms.`));
    }, options.timeoutMs);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    // Settled (an answer went out, or the body is over): what still comes is not kept.
    if (this.#settled) return callback(null, chunk);
    const cost = chunk.length + CHUNK_OVERHEAD_BYTES;
    if (!this.budget.take(cost)) {
      this.settle();
      callback(
        new MoongateError('too_many_requests', 'The server is receiving too many request bodies at once; retry shortly.', { retryAfter: 1 }),
      );
      return;
    }
    this.#held += cost;
    // A small chunk is copied into Node's shared buffer pool, so the body reader keeps a
    // slice of a shared slab instead of one allocation (and backing store) per chunk.
    callback(null, chunk.length < SMALL_CHUNK_BYTES ? Buffer.from(chunk) : chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.settle();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.settle();
    callback(error);
  }

  /** The body is no longer pending: its bytes go back to the budget and the deadline is off. Idempotent. */
  settle(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#cancelDeadline();
    this.budget.give(this.#held);
    this.#held = 0;
  }
}

/** The request says it has a body (a length other than 0, or chunked); a GET's or a HEAD's is never read. */
export function hasBody(raw: IncomingMessage): boolean {
  if (raw.method === 'GET' || raw.method === 'HEAD') return false;
  const length = raw.headers['content-length'];
  return raw.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * Bodies no larger than this, declared by content-length, are read and dropped after an early
 * answer, and the connection stays open: cheaper for the server than a new connection, and a
 * keep-alive client (or one that pipelines) loses nothing. Larger or chunked bodies close.
 */
const DRAIN_KEEP_ALIVE_BYTES = 64 * 1024;

/** Requests whose body moongate started to read: an answer to them is about the body (408, 413, 429), and closes. */
const bodiesRead = new WeakSet<IncomingMessage>();

function smallDeclaredBody(raw: IncomingMessage): boolean {
  if (raw.headers['transfer-encoding'] !== undefined) return false;
  const length = Number(raw.headers['content-length']);
  return Number.isInteger(length) && length <= DRAIN_KEEP_ALIVE_BYTES;
}

/**
 * When Node closes this connection after the current answer (`connection: close`), it first
 * reads and drops what is left of the request body, up to `lingerBytes` or `lingerMs`,
 * after sending its FIN: the client can read the answer before the connection is gone.
 */
function lingerBeforeClose(raw: IncomingMessage, options: Required<Pick<BodyGuardOptions, 'lingerBytes' | 'lingerMs' | 'schedule'>>): void {
  const socket: Socket = raw.socket;
  // Node's http server calls destroySoon() once the last response on a connection is written
  // (its resOnFinish), which closes the socket as soon as our FIN is out. It has no public
  // option for a lingering close, so the call is intercepted for this one socket.
  // light-my-request's stand-in socket has none, and needs none.
  if (typeof socket.destroySoon !== 'function' || Object.hasOwn(socket, 'destroySoon')) return;
  socket.destroySoon = function lingeringClose(this: Socket): void {
    delete (socket as Partial<Pick<Socket, 'destroySoon'>>).destroySoon;
    if (raw.complete || socket.destroyed) {
      socket.destroySoon();
      return;
    }
    // Half-close: our answer and FIN go out; the client's remaining bytes are still read.
    socket.end();
    let drained = 0;
    // The body is over (or too much of it came): close once our answer has left, never
    // before: a destroy() with the answer still buffered would throw it away.
    const close = (): void => {
      cancel();
      if (socket.writableFinished) socket.destroy();
      else socket.once('finish', () => socket.destroy());
    };
    // The linger is over: the client is not reading, so nothing more is owed to it.
    const cancel = options.schedule(() => socket.destroy(), options.lingerMs);
    socket.once('close', cancel);
    raw.on('data', (chunk: Buffer) => {
      drained += chunk.length;
      if (drained > options.lingerBytes) close();
    });
    // The whole body came: nothing is left unread, so closing sends no reset.
    raw.once('end', close);
    raw.once('error', close);
    raw.resume();
  };
}

/**
 * The deadline, the process-wide cap and the lingering close, for every body moongate reads:
 * Fastify's routes (installBodyGuard) and the chat route, which runs ahead of Fastify
 * (routes/chat-completions-route.ts).
 */
export class BodyGuard {
  readonly budget: PendingBodyBudget;
  readonly #options: Required<BodyGuardOptions>;

  constructor(options: BodyGuardOptions) {
    this.budget = new PendingBodyBudget(options.maxPendingBytes);
    this.#options = { ...options, schedule: options.schedule ?? realSchedule };
  }

  /**
   * Calls `ready` with the stream to read `raw`'s body from: `payload` itself when nothing of
   * it is pending (no body, or all of it arrived), else `payload` passed through the guard.
   */
  open(raw: IncomingMessage, res: ServerResponse, payload: Readable, ready: (payload: Readable) => void): void {
    if (!hasBody(raw)) {
      ready(payload);
      return;
    }
    this.touch(raw);
    // The whole body has arrived already: nothing is pending, so there is no deadline to keep
    // and no bytes still arriving to count. It is read as it is, with its size limit, and no
    // stream pass is paid for it.
    if (raw.complete) {
      ready(payload);
      return;
    }
    // A small body usually comes in the same read as its head, but Node parses it only after
    // the request went through the routing and the credential check: one turn later it is
    // complete (issue 20: the stream pass below cost every request a Transform, a pipe, a
    // timer and three listeners). A body still missing then is guarded as any other.
    if (smallDeclaredBody(raw)) {
      nextTurn(() => ready(raw.complete ? payload : this.#guard(raw, res, payload)));
      return;
    }
    ready(this.#guard(raw, res, payload));
  }

  /**
   * The body was looked at (its type, its declared size): an answer about it now closes the
   * connection, lingering, as one given once its reading began (beforeAnswer).
   */
  touch(raw: IncomingMessage): void {
    bodiesRead.add(raw);
  }

  #guard(raw: IncomingMessage, res: ServerResponse, payload: Readable): Readable {
    const body = new PendingBody(this.budget, { timeoutMs: this.#options.timeoutMs, schedule: this.#options.schedule });
    // The body's reader listens for errors while it reads; once it has stopped (a 413), a
    // late deadline or cap error has nobody to go to, and must not become an uncaught one.
    body.on('error', () => undefined);
    // However the request ends (answered early, client gone), its bytes are given back.
    const onReplyClose = (): void => body.settle();
    const onRequestClose = (): void => {
      // pipe() does not pass on the source's end: a client gone mid-upload must end the read too.
      if (!raw.complete) body.destroy(new MoongateError('bad_request', 'The client closed the connection before its body arrived.'));
      else body.settle();
    };
    res.once('close', onReplyClose);
    raw.once('close', onRequestClose);
    // Read to its end, the body is settled and nothing is pending: the listeners go, and with
    // them the last references to this stream, which a long answer (a stream open for an
    // hour) would otherwise keep alive, with its buffers' state, until the connection closes.
    body.once('end', () => {
      res.removeListener('close', onReplyClose);
      raw.removeListener('close', onRequestClose);
    });
    payload.pipe(body);
    // Gone while its guard waited a turn: its close has come and gone, and will not come again.
    if (raw.destroyed) onRequestClose();
    return body;
  }

  /**
   * Before an answer leaves: one that leaves before its body has fully arrived closes the
   * connection, lingering (true: the answer must say `connection: close`); except one given
   * before the body was touched (a refused credential or limit) to a small body: Node drops
   * that body as it arrives, and the connection stays.
   */
  beforeAnswer(raw: IncomingMessage, res: ServerResponse): boolean {
    // A connection closing anyway (the client said `connection: close`, or HTTP/1.0) must
    // linger too: closing with its body unread would reset it, and the reset throws away the
    // answers the client has not read yet (pipelined ones included).
    const keep = res.shouldKeepAlive && !bodiesRead.has(raw) && smallDeclaredBody(raw);
    if (raw.complete || !hasBody(raw) || keep) return false;
    lingerBeforeClose(raw, this.#options);
    return true;
  }
}

/** Installs the guard on every Fastify route of the app (the console API and the utility routes). */
export function installBodyGuard(app: FastifyInstance, guard: BodyGuard): void {
  app.addHook('preParsing', (request: FastifyRequest, reply: FastifyReply, payload, done) => {
    guard.open(request.raw, reply.raw, payload, (body) => done(null, body));
  });
  app.addHook('onSend', (request, reply, payload, done) => {
    if (guard.beforeAnswer(request.raw, reply.raw)) reply.header('connection', 'close');
    done(null, payload);
  });
}
