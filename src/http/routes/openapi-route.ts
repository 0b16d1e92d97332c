/** GET /openapi.json: the public API described (openapi-document.ts), built once at start. */
import { createRequire } from 'node:module';
import type { FastifyInstance } from 'fastify';
import { buildOpenApiDocument } from '../openapi-document.js';

// The same depth from src/http/routes and from the compiled dist/http/routes.
const PACKAGE_VERSION = (createRequire(import.meta.url)('../../../package.json') as { version: string }).version;

export const OPENAPI_PATH = '/openapi.json';

export function registerOpenApiRoute(app: FastifyInstance, version: string = PACKAGE_VERSION): void {
  const body = JSON.stringify(buildOpenApiDocument(version));
  app.get(OPENAPI_PATH, async (_request, reply) => reply.type('application/json').header('cache-control', 'no-cache').send(body));
}
