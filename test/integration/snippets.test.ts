/**
 * The playground's generated client code runs: every snippet, for a streaming and a plain
 * request with a message full of characters that need escaping, is executed against a real
 * server with the token in MOONGATE_API_KEY, and prints exactly the answer (and, streaming
 * a thinking model, the reasoning) that the same request gets from the API.
 *
 * cURL runs in `sh -c`, Python `requests` in /usr/bin/python3, Node fetch and the `openai`
 * JS SDK in node (from a directory inside the repo, so `openai` resolves to the devDependency),
 * Java java.net.http compiled with javac and run with java. The openai Python package is not installed here:
 * its snippet is only parsed. OkHttp has no jar offline: its snippet is compiled and run
 * against test/fixtures/okhttp-stand-in (OkHttp's API over java.net.http, see its README).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SseDecoder } from '../../src/sse/decoder.js';
import {
  API_KEY_VARIABLE,
  generateSnippets,
  type ChatBody,
  type Snippet,
  type SnippetId,
} from '../../web/src/snippets/generate-snippets.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const ROOT = join(import.meta.dirname, '..', '..');
const STAND_IN = join(ROOT, 'test', 'fixtures', 'okhttp-stand-in');

/** Quotes, backslashes, shell syntax, newlines, tabs, escape look-alikes of every language, non-BMP unicode. */
const NASTY =
  `é 日本 🌙 "q" 'x' \\ $HOME \`id\` \u2028 ` +
  `It's "quoted" and 'single' ''' """ \\ \\\\ \\n \\u0022 \\"\n` +
  `\${PATH} $(echo pwned) ; | & > < # %s {token} */ --\n` +
  `\ttab, \u00a0nbsp, end\\`;

/** The start of NASTY, which the simulator quotes back in its answer. */
const ECHOED = `é 日本 🌙 "q" 'x' \\ $HOME \`id\``;

interface Expected {
  reasoning: string;
  content: string;
}

interface RunResult {
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], options: { cwd: string; env?: Record<string, string>; input?: string }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { cwd: options.cwd, env: { ...process.env, ...options.env }, maxBuffer: 16 * 1024 * 1024, timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error !== null) reject(new Error(`${file} ${args.join(' ')} failed: ${error.message}\n${stderr}`));
        else resolve({ stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** What the API itself answers for this body: the reference every snippet must print. */
async function answerOf(server: TestServer, body: ChatBody): Promise<Expected> {
  const response = await server.chat(body);
  expect(response.status).toBe(200);
  if (body.stream !== true) {
    const json = (await response.json()) as { choices: Array<{ message: { content: string; reasoning_content?: string } }> };
    return { reasoning: json.choices[0]?.message.reasoning_content ?? '', content: json.choices[0]?.message.content ?? '' };
  }
  const { reasoning, content } = collectSse(await response.text());
  return { reasoning, content };
}

function collectSse(text: string): Expected & { done: boolean } {
  const decoder = new SseDecoder();
  const events = [...decoder.push(new TextEncoder().encode(text)), ...decoder.end()];
  let reasoning = '';
  let content = '';
  let done = false;
  for (const event of events) {
    if (event.data === '[DONE]') {
      done = true;
      continue;
    }
    const chunk = JSON.parse(event.data) as { choices: Array<{ delta: { content?: string; reasoning_content?: string } }> };
    for (const choice of chunk.choices) {
      reasoning += choice.delta.reasoning_content ?? '';
      content += choice.delta.content ?? '';
    }
  }
  return { reasoning, content, done };
}

/** What the streaming snippets print: the markers appear only when the model reasoned. */
function streamedOutput({ reasoning, content }: Expected): string {
  return reasoning === '' ? `${content}\n` : `[reasoning]\n${reasoning}\n[answer]\n${content}\n`;
}

const CASES: Array<{ name: string; body: ChatBody }> = [
  {
    name: 'stream on a thinking model',
    body: {
      model: 'kimi-k2-thinking',
      messages: [
        { role: 'system', content: 'Answer briefly.' },
        { role: 'user', content: NASTY },
      ],
      stream: true,
      max_tokens: 700,
      temperature: 0.6,
      seed: 11,
    },
  },
  {
    name: 'no stream',
    body: {
      model: 'kimi-k2-turbo-preview',
      messages: [
        { role: 'user', content: 'Hello' },
        { role: 'assistant', content: 'Hi! What can I do?' },
        { role: 'user', content: NASTY },
      ],
      stream: false,
      max_tokens: 400,
      seed: 12,
    },
  },
];

describe('generated client code', () => {
  let server: TestServer;
  let dir: string;
  let standInSources: string[];
  const env = (): Record<string, string> => ({ [API_KEY_VARIABLE]: server.token });

  beforeAll(async () => {
    server = await startTestServer();
    // Inside the repo, so `import OpenAI from "openai"` resolves to node_modules (ESM resolves from the file).
    await mkdir(join(ROOT, 'test-results'), { recursive: true });
    dir = await mkdtemp(join(ROOT, 'test-results', 'snippets-'));
    standInSources = ['MediaType', 'RequestBody', 'Request', 'OkHttpClient', 'Call', 'Response', 'ResponseBody']
      .map((name) => join(STAND_IN, 'okhttp3', `${name}.java`))
      .concat(join(STAND_IN, 'okio', 'BufferedSource.java'));
  });

  afterAll(async () => {
    await server?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('never inlines the token and reads it from MOONGATE_API_KEY in every language', () => {
    const snippets = generateSnippets({ baseUrl: 'https://api.example.com', body: CASES[0]!.body });
    const reads: Record<SnippetId, string> = {
      curl: '"Authorization: Bearer $MOONGATE_API_KEY"',
      python: 'os.environ["MOONGATE_API_KEY"]',
      node: 'process.env.MOONGATE_API_KEY',
      java: 'System.getenv("MOONGATE_API_KEY")',
      okhttp: 'System.getenv("MOONGATE_API_KEY")',
      'openai-python': 'os.environ["MOONGATE_API_KEY"]',
      'openai-node': 'process.env.MOONGATE_API_KEY',
    };
    expect(snippets.map((s) => s.id)).toEqual(Object.keys(reads));
    for (const snippet of snippets) {
      expect(snippet.code, snippet.id).toContain(reads[snippet.id]);
      expect(snippet.code, snippet.id).not.toMatch(/mg-[A-Za-z0-9_-]{10,}/);
      expect(snippet.code, snippet.id).toContain('https://api.example.com/');
    }
  });

  for (const { name, body } of CASES) {
    // Concurrent: the runs are child processes, the JVM ones take a while to start.
    describe.concurrent(name, { timeout: 60_000 }, () => {
      let expected: Expected;
      let snippets: Map<SnippetId, Snippet>;
      let caseDir: string;

      beforeAll(async () => {
        expected = await answerOf(server, body);
        expect(expected.content).toContain(ECHOED);
        if (body.model === 'kimi-k2-thinking') expect(expected.reasoning).not.toBe('');
        snippets = new Map(generateSnippets({ baseUrl: server.url, body }).map((s) => [s.id, s]));
        caseDir = join(dir, body.stream === true ? 'stream' : 'plain');
        await mkdir(caseDir, { recursive: true });
        for (const snippet of snippets.values()) await writeFile(join(caseDir, snippet.fileName), snippet.code);
        // javac is slow to start: one call compiles both Java snippets and the OkHttp stand-in.
        await run('javac', ['-encoding', 'UTF-8', '-d', join(caseDir, 'classes'), file('java'), file('okhttp'), ...standInSources], { cwd: caseDir });
      }, 60_000);

      const printed = (): string => (body.stream === true ? streamedOutput(expected) : `${expected.content}\n`);
      const file = (id: SnippetId): string => join(caseDir, snippets.get(id)!.fileName);

      it('cURL (sh -c) gets the same answer', async ({ expect }) => {
        const { stdout } = await run('sh', ['-c', snippets.get('curl')!.code], { cwd: caseDir, env: env() });
        if (body.stream === true) {
          const streamed = collectSse(stdout);
          expect(streamed.done).toBe(true);
          expect({ reasoning: streamed.reasoning, content: streamed.content }).toEqual(expected);
        } else {
          const json = JSON.parse(stdout) as { choices: Array<{ message: { content: string } }> };
          expect(json.choices[0]?.message.content).toBe(expected.content);
        }
      });

      it('Python requests prints the answer', async ({ expect }) => {
        const { stdout } = await run('/usr/bin/python3', [file('python')], { cwd: caseDir, env: env() });
        expect(stdout).toBe(printed());
      });

      it('Node fetch prints the answer', async ({ expect }) => {
        const { stdout } = await run(process.execPath, [file('node')], { cwd: ROOT, env: env() });
        expect(stdout).toBe(printed());
      });

      it('the openai JS SDK prints the answer', async ({ expect }) => {
        const { stdout } = await run(process.execPath, [file('openai-node')], { cwd: ROOT, env: env() });
        expect(stdout).toBe(printed());
      });

      it('Java java.net.http prints the answer', async ({ expect }) => {
        const { stdout } = await run('java', ['-cp', 'classes', 'Chat'], { cwd: caseDir, env: env() });
        expect(stdout).toBe(printed());
      });

      it('Java OkHttp prints the answer (against the OkHttp stand-in)', async ({ expect }) => {
        const { stdout } = await run('java', ['-cp', 'classes', 'ChatOkHttp'], { cwd: caseDir, env: env() });
        expect(stdout).toBe(printed());
      });

      it('the openai Python snippet is valid Python (the package is not installed here)', async ({ expect }) => {
        const code = snippets.get('openai-python')!.code;
        await run('/usr/bin/python3', ['-c', 'import ast, sys; ast.parse(sys.stdin.read())'], { cwd: caseDir, input: code });
        expect(code).toContain(`base_url="${server.url}/v1"`);
        expect(code).toContain(`model="${String(body.model)}"`);
        expect(code).toContain(body.stream === true ? 'stream=True' : 'stream=False');
      });
    });
  }

  it('a failed call prints the error envelope and exits non-zero', async () => {
    const body = { model: 'kimi-k2.5', messages: [{ role: 'user', content: 'hi' }], stream: true };
    const snippets = generateSnippets({ baseUrl: server.url, body });
    const errorDir = join(dir, 'error');
    await mkdir(errorDir, { recursive: true });
    const python = snippets.find((s) => s.id === 'python')!;
    await writeFile(join(errorDir, python.fileName), python.code);
    const failure = run('/usr/bin/python3', [join(errorDir, python.fileName)], { cwd: errorDir, env: { [API_KEY_VARIABLE]: 'mg-wrong' } });
    await expect(failure).rejects.toThrow(/HTTP 401: .*"code":"invalid_token"/);
  });
});
