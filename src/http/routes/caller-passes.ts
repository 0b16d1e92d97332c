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
}

/** `route` names the route in the error a handler without its hook would raise. */
export function callerPasses(gateway: ChatGateway, route: string): CallerPasses {
  const passes = new WeakMap<FastifyRequest, CallerPass>();
  return {
    admitCaller: async (request, reply) => {
      const pass = await gateway.admitCaller(request.headers.authorization, KIMI_SERVICE.slug, request.id);
      if (reply.raw.destroyed) pass.release();
      else reply.raw.once('close', pass.release);
      passes.set(request, pass);
    },
    passOf: (request) => {
      const pass = passes.get(request);
      if (pass === undefined) throw new MoongateError('api_error', undefined, { cause: new Error(`${route} ran without its onRequest hook`) });
      return pass;
    },
  };
}
