/**
 * GET /: a plain page saying what this server is and how to call it, until the web
 * console takes the root URL over.
 */
import type { FastifyInstance } from 'fastify';
import type { ModelLookup } from '../../contract/index.js';

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function registerHomeRoute(app: FastifyInstance, lookup: ModelLookup): void {
  app.get('/', async (request, reply) => {
    const origin = `${request.protocol}://${request.host}`;
    const models = lookup.listed().map((m) => `<li><code>${escapeHtml(m.id)}</code>${m.thinking ? ' (thinks)' : ''}</li>`).join('');
    const curl = `curl ${origin}/kimi/chat/completions \\
  -H "authorization: Bearer $TOKEN" -H "content-type: application/json" \\
  -d '{"model": "kimi-k2.5", "messages": [{"role": "user", "content": "Hello"}]}'`;
    return reply.type('text/html; charset=utf-8').send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>moongate: Kimi Chat Completions API</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1d2330}pre{background:#f3f4f8;padding:1rem;overflow:auto;border-radius:6px}code{font-size:.92em}</style>
</head><body>
<h1>Kimi Chat Completions API</h1>
<p>This moongate server answers <code>POST ${escapeHtml(origin)}/kimi/chat/completions</code> with a Bearer token,
and OpenAI SDKs work with <code>baseURL ${escapeHtml(origin)}/v1</code>.</p>
<p>Get a token on the server's machine: <code>npx moongate credential create --email you@example.com</code>, then:</p>
<pre>${escapeHtml(curl)}</pre>
<h2>Models</h2><ul>${models}</ul>
</body></html>`);
  });
}
