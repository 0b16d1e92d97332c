/**
 * The seed's own Python `requests` snippets, with only the URL and token filled in,
 * run by Debian's python3 (python3-requests) against a real moongate.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPLETION_ID_PATTERN } from '../../src/contract/index.js';
import { decodeSse } from '../../src/sse/index.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';

/** Pulls the Python snippets out of the seed document itself. */
function seedSnippets(): string[] {
  const seed = readFileSync(new URL('../fixtures/seed.txt', import.meta.url), 'utf8');
  return [...seed.matchAll(/^import requests\n[\s\S]*?^print\(response\.text\)$/gm)].map((m) => m[0]);
}

async function python(code: string): Promise<string> {
  const { stdout } = await run(PYTHON, ['-c', code], { timeout: 20_000 });
  return stdout;
}

async function* bytes(text: string): AsyncGenerator<Uint8Array> {
  yield new TextEncoder().encode(text);
}

let moongate: TestServer;
let hasRequests = false;

beforeAll(async () => {
  moongate = await startTestServer();
  hasRequests = existsSync(PYTHON) && (await python('import requests').then(() => true, () => false));
  if (!hasRequests) {
    const message = 'python3-requests is missing: install it with apt-get install python3-requests';
    if (process.env.CI === 'true') throw new Error(message);
    console.warn(`\n!!! SKIPPING the seed Python snippets: ${message}\n`);
  }
});
afterAll(async () => {
  await moongate?.close();
});

function fill(snippet: string): string {
  return snippet
    .replace('https://api.acedata.cloud/kimi/chat/completions', `${moongate.url}/kimi/chat/completions`)
    .replace('{token}', moongate.token);
}

describe("the seed's Python snippets", () => {
  const snippets = seedSnippets();

  it('finds both snippets in the seed (stream and multi-turn)', () => {
    expect(snippets).toHaveLength(2);
    expect(snippets[0]).toContain('"stream": True');
    expect(snippets[1]).toContain('What model are you?');
  });

  it('streams: the printed text is the seed-shaped SSE stream ending in [DONE]', async (ctx) => {
    if (!hasRequests) return ctx.skip();
    const out = await python(fill(snippets[0] ?? ''));
    const events = [];
    for await (const e of decodeSse(bytes(out))) events.push(e);
    expect(events.at(-1)?.data).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data) as { id: string; choices: unknown[]; usage: unknown });
    expect(chunks[0]).toMatchObject({ choices: [{ index: 0, delta: { content: '', role: 'assistant' } }] });
    expect(chunks.at(-1)?.choices).toEqual([]);
    expect(chunks.at(-1)?.usage).toMatchObject({ prompt_tokens: 9 });
    for (const c of chunks) expect(c.id).toMatch(COMPLETION_ID_PATTERN);
  });

  it('multi-turn: the printed JSON has prompt_tokens 28', async (ctx) => {
    if (!hasRequests) return ctx.skip();
    const out = await python(fill(snippets[1] ?? ''));
    const body = JSON.parse(out) as { object: string; usage: { prompt_tokens: number }; choices: { message: { content: string } }[] };
    expect(body.object).toBe('chat.completion');
    expect(body.usage.prompt_tokens).toBe(28);
    expect(body.choices[0]?.message.content).toMatch(/simulat/i);
  });
});
