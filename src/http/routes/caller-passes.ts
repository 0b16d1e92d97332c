/**
 * The credential and limits check every Bearer route makes before its body is read
 * (docs/security.md, "Order of checks"): `admitCaller`, an onRequest hook, authenticates and
 * takes the rate and concurrency permit; `passOf` gives the handler that pass. However the
 * request ends (answered, streamed, refused while its body was read, or its client gone,
 * even before the hook finished), the permit comes back once.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { MoongateError } from '../../contract/index.js';
import type { ChatGateway } from '../../gateway/chat-gateway.js';
import type { CallerPass } from '../../gateway/pipeline.js';
import { KIMI_SERVICE } from '../../store/seed-services.js';

export interface CallerPasses {
  admitCaller(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  passOf(request: FastifyRequest): CallerPass;
  /** Keeps the permit past the connection's close until the returned function is called (once). */
  keep(request: FastifyRequest): () => void;
}

/** A pass and what still needs its permit: the connection (until it closes) and kept work. */
interface Holding {
  pass: CallerPass;
  users: number;
}

/** `route` names the route in the error a handler without its hook would raise. */
export function callerPasses(gateway: ChatGateway, route: string): CallerPasses {
  const passes = new WeakMap<FastifyRequest, Holding>();
  const drop = (holding: Holding): void => {
    if (--holding.users === 0) holding.pass.release();
  };
  const holdingOf = (request: FastifyRequest): Holding => {
    const holding = passes.get(request);
    if (holding === undefined) throw new MoongateError('api_error', undefined, { cause: new Error(`${route} ran without its onRequest hook`) });
    return holding;
  };
  return {
    admitCaller: async (request, reply) => {
      const pass = await gateway.admitCaller(request.headers.authorization, KIMI_SERVICE.slug, request.id);
      const holding: Holding = { pass, users: 1 };
      if (reply.raw.destroyed) drop(holding);
      else reply.raw.once('close', () => drop(holding));
      passes.set(request, holding);
    },
    passOf: (request) => holdingOf(request).pass,
    keep: (request) => {
      const holding = holdingOf(request);
      holding.users++;
      let kept = true;
      return () => {
        if (!kept) return;
        kept = false;
        drop(holding);
      };
    },
  };
}
