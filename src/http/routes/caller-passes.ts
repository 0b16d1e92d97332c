/**
 * The credential and limits check every Bearer route makes before its body is read
 * (docs/security.md, "Order of checks"): `admitCaller`, an onRequest hook, authenticates and
 * takes the rate and concurrency permit; `passOf` gives the handler that pass. However the
 * request ends (answered, streamed, refused while its body was read, or its client gone,
 * even before the hook finished), the permit comes back once.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import { MoongateError } from '../../contract/index.js';
import type { ChatGateway } from '../../gateway/chat-gateway.js';
import type { CallerPass } from '../../gateway/pipeline.js';
import { KIMI_SERVICE } from '../../store/seed-services.js';
import { AccessLog } from '../access-log.js';

export interface CallerPasses {
  admitCaller(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  passOf(request: FastifyRequest): CallerPass;
}

/**
 * Who keeps a caller's permit: its connection until it closes (`closed()`), and each piece of
 * work kept with `keep()` until it calls `drop()`. The permit comes back, once, when the
 * last of them lets go. For the Bearer routes on Fastify (heldUntilClosed) and for the chat
 * route ahead of it, which follows its connection's close with a listener of its own.
 */
export class PermitHolders {
  #count = 1;
  #connection = true;

  constructor(private readonly pass: CallerPass) {}

  /** The connection has closed: it no longer keeps the permit (later calls do nothing). */
  closed(): void {
    if (!this.#connection) return;
    this.#connection = false;
    this.drop();
  }

  /** One more piece of work keeps the permit; false when it was given back already (nothing to drop then). */
  keep(): boolean {
    if (this.#count === 0) return false;
    this.#count++;
    return true;
  }

  /** A piece of work that keep() let in is over. */
  drop(): void {
    if (--this.#count === 0) this.pass.release();
  }
}

/** Holds `pass`'s permit until `res` has closed. */
function heldUntilClosed(pass: CallerPass, res: ServerResponse): void {
  const holders = new PermitHolders(pass);
  if (res.destroyed) holders.closed();
  else res.once('close', () => holders.closed());
}

/** `route` names the route in the error a handler without its hook would raise. */
export function callerPasses(gateway: ChatGateway, route: string): CallerPasses {
  const passes = new WeakMap<FastifyRequest, CallerPass>();
  return {
    admitCaller: async (request, reply) => {
      const pass = await gateway.admitCaller(request.headers.authorization, KIMI_SERVICE.slug, request.id, AccessLog.observerOf(reply.raw));
      // Their handlers answer in one piece: the permit is kept until the connection closes.
      heldUntilClosed(pass, reply.raw);
      passes.set(request, pass);
    },
    passOf: (request) => {
      const pass = passes.get(request);
      if (pass === undefined) throw new MoongateError('api_error', undefined, { cause: new Error(`${route} ran without its onRequest hook`) });
      return pass;
    },
  };
}
