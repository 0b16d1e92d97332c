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

export interface CallerPasses {
  admitCaller(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  passOf(request: FastifyRequest): CallerPass;
}

/**
 * Holds `pass`'s permit until `res` has closed and every piece of work kept with the returned
 * function is over (each kept piece is let go, once, by the function `keep()` returns). The
 * permit comes back once. For the Bearer routes on Fastify and for the chat route ahead of it.
 */
export function heldUntilClosed(pass: CallerPass, res: ServerResponse): () => () => void {
  let users = 1;
  const drop = (): void => {
    if (--users === 0) pass.release();
  };
  if (res.destroyed) drop();
  else res.once('close', drop);
  return () => {
    // Already given back (the connection closed and nothing was kept): nothing to keep.
    if (users === 0) return () => undefined;
    users++;
    let kept = true;
    return () => {
      if (!kept) return;
      kept = false;
      drop();
    };
  };
}

/** `route` names the route in the error a handler without its hook would raise. */
export function callerPasses(gateway: ChatGateway, route: string): CallerPasses {
  const passes = new WeakMap<FastifyRequest, CallerPass>();
  return {
    admitCaller: async (request, reply) => {
      const pass = await gateway.admitCaller(request.headers.authorization, KIMI_SERVICE.slug, request.id);
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
