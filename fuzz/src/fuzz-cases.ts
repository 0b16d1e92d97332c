/**
 * The fuzzer's requests, drawn from a seeded generator so a failure can be replayed with
 * `--seed`. Each case is the bytes to send and what a correct server does with them: how
 * many answers come back, and whether the connection must then close. Families: hostile
 * JSON bodies on the chat routes, every public GET route, the console API, static paths,
 * absurd content types and methods, malformed request lines, headers and chunked bodies,
 * and pipelined requests on one keep-alive connection.
 */
import { rawRequest } from './raw-http.js';

export class FuzzRandom {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }

  /** mulberry32: tiny, fast, and good enough to spread cases. */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }
}

export interface FuzzCase {
  family: string;
  /** Written one after another (a pause-free split exercises the parser's partial reads). */
  chunks: Buffer[];
  /** Answers a correct server sends; `undefined`: zero or one (the client hung up mid-request). */
  responses: number | undefined;
  /** The last answer must say `connection: close` (a request the parser rejected). */
  mustClose: boolean;
  /** The client half-closes after writing (a truncated request). */
  endAfterWrite?: boolean;
}

export interface CaseContext {
  token: string;
  metricsToken: string;
}

const MODELS = ['kimi-k2.5', 'kimi-k2-thinking', 'kimi-k2-turbo-preview', 'kimi-k2-0711-preview', 'gpt-4', '', 'KIMI-K2.5'];
const CHAT_PATHS = ['/kimi/chat/completions', '/v1/chat/completions'];
const GET_PATHS = ['/v1/models', '/kimi/models', '/healthz', '/readyz', '/metrics', '/', '/login', '/register', '/playground', '/credentials', '/usage', '/balance', '/account', '/admin'];
const API_PATHS = [
  '/api/register', '/api/login', '/api/logout', '/api/session', '/api/password', '/api/services', '/api/credentials', '/api/balance',
  '/api/balance/redeem', '/api/usage', '/api/usage/daily', '/api/credentials/cred_x', '/api/credentials/cred_x/playground-token',
  '/api/services/kimi/acquire', '/api/admin/people', '/api/admin/codes', '/api/admin/prices', '/api/admin/prices/kimi-k2.5',
  '/api/admin/credentials', '/api/admin/usage/daily', '/api/admin/people/p/balance', '/api/nowhere',
];
const STATIC_PATHS = [
  '/assets/', '/assets/../index.html', '/assets/%2e%2e/%2e%2e/etc/passwd', '/assets/%00', '/assets/a%00b.js', '/assets/.env', '/assets/x.js',
  '/assets//', '/assets/%', '/assets/%zz', '/assets/..%2f..%2fpackage.json', '/assets/' + 'a'.repeat(300), '/assets/😀.js', '/assets/a?b=../../',
  '/%2e%2e/', '/..', '/./v1/models', '//v1/models', '/v1//models', '/v1/models/', '/v1/models?x=%00', '/healthz#x', '/index.html', '/favicon.ico',
];
// No HEAD: its answer has a content-length and no body, which the raw reader would wait for.
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'QUERY', 'TRACE', 'PROPFIND', 'SEARCH', 'LINK', 'PURGE'];
const BAD_METHODS = ['FOO', 'get', 'G ET', 'GET\u0000', '💥', 'X'.repeat(40), 'CONNECT', ''];
const CONTENT_TYPES = [
  'application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'a/b/c', ';', 'application/',
  '/json', '*/*', 'application/json; charset=latin1', 'multipart/form-data; boundary=x', 'application/json;;;', 'application/json; a="b',
  'x'.repeat(500), 'application/json\t', ' application/json', 'APPLICATION/JSON', 'application/json, text/plain', 'text/html; charset="',
];
const WEIRD_STRINGS = [
  '', ' ', '\u0000', '\ud800', '\udc00x', '<|endoftext|>', '<|im_start|>system', '😀'.repeat(50), 'é\u0301\u0301\u0301', '\u202e', '{"a":1}',
  '${jndi:x}', '%s%s%n', '\r\n\r\nGET / HTTP/1.1', 'a'.repeat(5000), 'ω '.repeat(2000), '\t\n\u000b', 'null', '__proto__', '안녕하세요',
];
const WEIRD_VALUES: unknown[] = [null, true, false, 0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 1, '', 'x', [], {}, [null], { a: null }, '1', 'true'];
const PATTERNS = ['^(a+)+$', '(x+x+)+y', '[', '\\', '(?<=a)b', '^\\d{3}-\\d{4}$', '^[A-Z]{2,}$', '(a|aa)*c', '.{0,100000}', '\\p{L}+', '(?:)'];

function weird(r: FuzzRandom): unknown {
  return r.chance(0.5) ? r.pick(WEIRD_STRINGS) : r.pick(WEIRD_VALUES);
}

function schema(r: FuzzRandom, depth: number): unknown {
  if (depth > 4 || r.chance(0.2)) return r.chance(0.7) ? { type: r.pick(['string', 'number', 'integer', 'boolean', 'null', 'array', 'object', 'nonsense']) } : weird(r);
  const kind = r.int(0, 7);
  if (kind === 0) return { type: 'string', pattern: r.pick(PATTERNS), minLength: r.int(-5, 50), maxLength: r.int(-5, 50) };
  if (kind === 1) return { type: 'string', enum: [r.pick(WEIRD_STRINGS), 'a'], format: r.pick(['date-time', 'email', 'uri', 'uuid', 'x']) };
  if (kind === 2) return { type: 'number', minimum: r.int(-10, 10), maximum: r.int(-10, 10), multipleOf: r.pick([0, 0.1, 3, -1]) };
  if (kind === 3) return { type: 'array', items: schema(r, depth + 1), minItems: r.int(0, 5), maxItems: r.int(0, 2000) };
  if (kind === 4) return { $ref: r.pick(['#', '#/properties/a', '#/$defs/x', 'http://x', '#/a/~1/~0']) };
  if (kind === 5) return { anyOf: [schema(r, depth + 1), schema(r, depth + 1)], allOf: [schema(r, depth + 1)] };
  if (kind === 6) return { type: 'object', properties: { a: schema(r, depth + 1), [String(r.pick(WEIRD_STRINGS))]: schema(r, depth + 1) }, required: ['a', 'zz'] };
  return { type: ['string', 'null'], const: weird(r) };
}

function message(r: FuzzRandom): unknown {
  const roll = r.int(0, 9);
  if (roll === 0) return weird(r);
  if (roll === 1) return { role: r.pick(['user', 'system', 'assistant', 'tool', 'developer', 'function', '']), content: weird(r) };
  if (roll === 2) return { role: 'user', content: [{ type: 'text', text: r.pick(WEIRD_STRINGS) }, { type: r.pick(['image_url', 'text', 'x']), text: weird(r) }] };
  if (roll === 3) return { role: 'assistant', content: null, tool_calls: [{ id: r.pick(WEIRD_STRINGS), type: 'function', function: { name: 'f', arguments: r.pick(WEIRD_STRINGS) } }] };
  if (roll === 4) return { role: 'tool', tool_call_id: r.pick(['call_1', '', 'x']), content: r.pick(WEIRD_STRINGS) };
  if (roll === 5) return { role: 'assistant', content: r.pick(WEIRD_STRINGS), partial: r.pick([true, false, 'yes']) };
  if (roll === 6) return { role: 'user', content: r.pick(WEIRD_STRINGS), name: r.pick(WEIRD_STRINGS) };
  return { role: 'user', content: r.pick(['Hello', 'What is the weather in Paris?', 'Write a poem', ...WEIRD_STRINGS]) };
}

/** A chat body: mostly valid with one or two hostile twists, sometimes nonsense throughout. */
function chatBody(r: FuzzRandom): string {
  if (r.chance(0.05)) return r.pick(['', '{', '[]', 'null', '"x"', '{"model":', '\u0000', '{}{}', '{"a":' + '['.repeat(5000), 'x'.repeat(2000)]);
  const body: Record<string, unknown> = { model: r.pick(MODELS), messages: [message(r)] };
  if (r.chance(0.3)) (body.messages as unknown[]).push(message(r), message(r));
  if (r.chance(0.3)) body.stream = r.pick([true, false, null, 'true', 1]);
  if (r.chance(0.2)) body.n = r.pick([1, 2, 3, 0, -1, 129, 1.5, '2', null]);
  if (r.chance(0.3)) body.max_tokens = r.pick([1, 5, 16, 0, -1, 1e9, 2.5, '10', null]);
  if (r.chance(0.2)) body.temperature = r.pick([0, 1, 2, 3, -1, 'hot', null]);
  if (r.chance(0.2)) body.stop = r.pick([['.', 'the'], '', ['x'.repeat(40)], [1], 'simulated', null, Array(10).fill('a')]);
  if (r.chance(0.2)) body.response_format = r.pick([{ type: 'json_object' }, { type: 'text' }, { type: 'json_schema' }, 'json', null]);
  if (r.chance(0.25)) {
    body.tools = [{ type: 'function', function: { name: r.pick(['get_weather', 'f', '', 'x y', 'a'.repeat(70)]), description: r.pick(WEIRD_STRINGS), parameters: schema(r, 0) } }];
    if (r.chance(0.5)) body.tool_choice = r.pick(['auto', 'none', 'required', { type: 'function', function: { name: 'get_weather' } }, 'x', 5]);
  }
  if (r.chance(0.1)) body.stream_options = r.pick([{ include_usage: true }, 'x', null]);
  if (r.chance(0.1)) body.user = r.pick(WEIRD_STRINGS);
  if (r.chance(0.1)) body.seed = r.pick([1, -1, 1e20, 'x']);
  if (r.chance(0.05)) body[r.pick(['__proto__', 'constructor', 'extra', ''])] = weird(r);
  let text = JSON.stringify(body);
  // JSON.stringify writes lone surrogates as escapes; sometimes send them raw (invalid UTF-8 after encoding).
  if (r.chance(0.05)) text = text.replace('Hello', '\ud800Hello');
  return text;
}

function auth(r: FuzzRandom, context: CaseContext): string[] {
  const roll = r.int(0, 9);
  if (roll < 6) return [`Authorization: Bearer ${context.token}`];
  if (roll === 6) return [];
  if (roll === 7) return [`Authorization: ${r.pick(['Bearer', 'Basic abc', 'Bearer  ', 'bearer x', 'Bearer mg-' + 'x'.repeat(40), `Bearer ${context.token}x`])}`];
  if (roll === 8) return [`Authorization: Bearer ${context.token}`, `Authorization: Bearer ${context.token}`];
  return [`Authorization: Bearer ${'x'.repeat(r.int(1, 3000))}`];
}

function request(method: string, path: string, headers: string[], body = '', close = true): Buffer {
  const length = body === '' && (method === 'GET' || method === 'HEAD') ? [] : [`Content-Length: ${Buffer.byteLength(body)}`];
  return rawRequest(`${method} ${path} HTTP/1.1`, ['Host: moongate', ...(close ? ['Connection: close'] : []), ...length, ...headers], body);
}

type Family = (r: FuzzRandom, context: CaseContext) => FuzzCase;

const FAMILIES: [weight: number, name: string, make: Family][] = [
  [30, 'chat-json', (r, c) => ({
    family: 'chat-json',
    chunks: [request('POST', r.pick(CHAT_PATHS), ['Content-Type: application/json', ...auth(r, c)], chatBody(r))],
    responses: 1,
    mustClose: false,
  })],
  [10, 'public-get', (r, c) => {
    const path = r.pick(GET_PATHS);
    const headers = path === '/metrics' && r.chance(0.5) ? [`Authorization: Bearer ${c.metricsToken}`] : r.chance(0.3) ? auth(r, c) : [];
    return { family: 'public-get', chunks: [request('GET', path, headers)], responses: 1, mustClose: false };
  }],
  [10, 'console-api', (r) => {
    const method = r.pick(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
    const body = method === 'GET' || method === 'DELETE' ? '' : JSON.stringify(r.chance(0.5) ? { email: r.pick(WEIRD_STRINGS), password: r.pick(WEIRD_STRINGS), code: weird(r) } : weird(r));
    const headers = ['Content-Type: application/json'];
    if (r.chance(0.5)) headers.push(`Cookie: ${r.pick(['moongate_session=abc', 'moongate_session=', 'a=b; c', '=', 'moongate_session=' + 'x'.repeat(500)])}`);
    if (r.chance(0.5)) headers.push(`Origin: ${r.pick(['http://moongate', 'http://evil.example', 'null', ''])}`);
    return { family: 'console-api', chunks: [request(method, r.pick(API_PATHS), headers, body)], responses: 1, mustClose: false };
  }],
  [8, 'paths-and-methods', (r) => {
    const path = r.chance(0.6) ? r.pick(STATIC_PATHS) : r.pick([...GET_PATHS, ...CHAT_PATHS, ...API_PATHS]) + r.pick(['', '/', '?', '?a=%', '%00', '/..', '#', ';x']);
    const method = r.pick(METHODS);
    const body = method === 'GET' || method === 'HEAD' || r.chance(0.5) ? '' : '{}';
    const headers = body !== '' && r.chance(0.7) ? ['Content-Type: application/json'] : [];
    return { family: 'paths-and-methods', chunks: [request(method, path, headers, body)], responses: 1, mustClose: false };
  }],
  [8, 'content-types', (r, c) => ({
    family: 'content-types',
    chunks: [request(r.pick(['POST', 'PUT', 'PATCH', 'DELETE', 'QUERY', 'OPTIONS']), r.pick([...CHAT_PATHS, '/v1/models', '/api/login', '/healthz']), [`Content-Type: ${r.pick(CONTENT_TYPES)}`, ...auth(r, c)], r.chance(0.7) ? chatBody(r) : r.pick(['a=b', '<x/>', '']))],
    responses: 1,
    mustClose: false,
  })],
  [10, 'malformed', (r) => {
    const roll = r.int(0, 11);
    const good = ['Host: moongate'];
    let bytes: Buffer;
    if (roll === 0) bytes = rawRequest(`${r.pick(BAD_METHODS)} / HTTP/1.1`, good);
    else if (roll === 1) bytes = Buffer.from(r.pick(['\r\n\r\n', 'GET\r\n\r\n', 'GET / \r\n\r\n', 'GET  /  HTTP/1.1\r\n\r\n', '\u0016\u0003\u0001\u0000\u00a5\u0001\r\n\r\n', 'HTTP/1.1 200 OK\r\n\r\n', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n']), 'latin1');
    else if (roll === 2) bytes = rawRequest(`GET /healthz HTTP/${r.pick(['0.9', '2.0', '1.2', '9', 'x', '1.1 extra'])}`, good);
    else if (roll === 3) bytes = rawRequest('GET /healthz HTTP/1.1', [...good, r.pick(['no colon', ' leading: space', 'X-A : b', 'X-\u0000: y', 'X-Fold: a\r\n  folded', ': empty', 'X-É: é', 'Content-Length: -1', 'Content-Length: 1e3', 'Transfer-Encoding: gzip, chunked, x'])]);
    else if (roll === 4) bytes = rawRequest('POST /v1/chat/completions HTTP/1.1', [...good, 'Transfer-Encoding: chunked'], r.pick(['zz\r\n{}\r\n0\r\n\r\n', '2\r\n{}0\r\n\r\n', '-1\r\n\r\n', 'ffffffffffffffffff\r\n', '2;ext=' + 'x'.repeat(100) + '\r\n{}\r\n0\r\n\r\n\u0000', '2\r\n{}\r\n0\r\nTrailer\r\n\r\n']));
    else if (roll === 5) bytes = rawRequest('POST /v1/chat/completions HTTP/1.1', [...good, 'Content-Length: 2', r.pick(['Content-Length: 3', 'Transfer-Encoding: chunked', 'Content-Length: 2'])], '{}');
    else if (roll === 6) bytes = rawRequest(`GET /${'a'.repeat(r.int(9000, 70_000))} HTTP/1.1`, good);
    else if (roll === 7) bytes = rawRequest('GET /healthz HTTP/1.1', [...good, `X-Big: ${'b'.repeat(r.int(17_000, 40_000))}`]);
    else if (roll === 8) bytes = rawRequest('GET /healthz HTTP/1.1', [...good, ...Array.from({ length: r.int(2100, 3000) }, (_, i) => `X-${i}: y`)]);
    else if (roll === 9) bytes = Buffer.from(`GET /healthz HTTP/1.1\nHost: x\n${r.pick(['\r', '\u0000', '\n'])}\n`, 'latin1');
    else if (roll === 10) bytes = rawRequest('GET /\u0000 HTTP/1.1', good);
    else bytes = rawRequest('GET /healthz HTTP/1.1', [...good, 'Host: second', 'Upgrade: websocket', 'Connection: Upgrade']);
    // Some of these Node accepts after all (a duplicate identical Content-Length, an upgrade
    // nobody takes), some are not a request yet (blank lines) and get none, the rest get the
    // parser's 400. The client half-closes, so an unfinished request ends instead of waiting.
    return { family: 'malformed', chunks: split(r, bytes), responses: undefined, mustClose: false, endAfterWrite: true };
  }],
  [6, 'truncated', (r, c) => {
    const body = chatBody(r);
    const full = request('POST', r.pick(CHAT_PATHS), ['Content-Type: application/json', ...auth(r, c)], body);
    const cut = full.subarray(0, r.int(1, Math.max(1, full.length - 1)));
    return { family: 'truncated', chunks: [cut], responses: undefined, mustClose: false, endAfterWrite: true };
  }],
  [8, 'pipelined', (r, c) => {
    const count = r.int(2, 5);
    // A broken request at the end: the requests before it are answered, then its 400 with connection: close.
    const broken = r.chance(0.3);
    const requests: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const close = i === count - 1 && !broken;
      requests.push(r.chance(0.5)
        ? request('GET', r.pick(['/healthz', '/v1/models', '/readyz', '/nowhere']), [], '', close)
        : request('POST', r.pick(CHAT_PATHS), ['Content-Type: application/json', ...auth(r, c)], chatBody(r), close));
    }
    if (broken) requests.push(rawRequest('GET /healthz HTTP/1.1', ['Host: x', 'broken header']));
    return { family: 'pipelined', chunks: split(r, Buffer.concat(requests)), responses: count + (broken ? 1 : 0), mustClose: broken };
  }],
];

/** Sometimes the bytes go out in several writes, cut anywhere. */
function split(r: FuzzRandom, bytes: Buffer): Buffer[] {
  if (bytes.length < 2 || r.chance(0.6)) return [bytes];
  const parts: Buffer[] = [];
  let at = 0;
  while (at < bytes.length) {
    const size = r.int(1, Math.max(1, Math.ceil(bytes.length / 3)));
    parts.push(bytes.subarray(at, at + size));
    at += size;
  }
  return parts;
}

const TOTAL_WEIGHT = FAMILIES.reduce((sum, [weight]) => sum + weight, 0);

export function nextCase(r: FuzzRandom, context: CaseContext): FuzzCase {
  let roll = r.next() * TOTAL_WEIGHT;
  for (const [weight, , make] of FAMILIES) {
    roll -= weight;
    if (roll < 0) return make(r, context);
  }
  return (FAMILIES[0] as (typeof FAMILIES)[number])[2](r, context);
}

/** Bodies of 1 MiB one-word strings in the fields that used to freeze the server (issue 15, item 3). */
export function heavyBodies(): { field: string; body: string }[] {
  const word = `${'a'.repeat(1020)}Ω😀한`.repeat(1024);
  const tool = (fn: Record<string, unknown>): unknown[] => [{ type: 'function', function: { name: 'get_weather', ...fn } }];
  const param = (extra: Record<string, unknown>): Record<string, unknown> => ({ parameters: { type: 'object', properties: { city: { type: 'string', ...extra } }, required: ['city'] } });
  const user = { role: 'user', content: 'What is the weather in Paris?' };
  const call = { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{}' } }] };
  const bodies: [string, Record<string, unknown>][] = [
    ['messages[].content', { messages: [{ role: 'user', content: word }] }],
    ['tools[].function.description', { messages: [user], tools: tool({ description: word, ...param({}) }) }],
    ['parameters.pattern', { messages: [user], tools: tool(param({ pattern: word })), tool_choice: 'required' }],
    ['parameters.enum', { messages: [user], tools: tool(param({ enum: [word] })), tool_choice: 'required' }],
    ['tool result', { messages: [user, call, { role: 'tool', tool_call_id: 'call_1', content: word }] }],
    ['model', { model: word, messages: [user] }],
    ['stop', { messages: [user], stop: [word] }],
  ];
  return bodies.map(([field, body]) => ({ field, body: JSON.stringify({ model: 'kimi-k2.5', ...body }) }));
}
