/**
 * A browser-like client of the console API: keeps the `moongate_session` cookie the
 * server sets and the CSRF token it hands out, and sends both back like the console will.
 * Given the Fastify app, it calls it with `inject()` (no socket, as Fastify's own route tests
 * do); given a URL, it uses fetch on a real port (the browser tests' servers).
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';

/** The password console tests register people with. */
export const CONSOLE_PASSWORD = 'correct horse battery';

let emails = 0;
/** An email no other test of this process has used. */
export function uniqueEmail(prefix = 'console'): string {
  return `${prefix}-${++emails}-${randomBytes(3).toString('hex')}@example.com`;
}

/** The console's error envelope, with this status and code, and the trace id in body and header. */
export function expectError(res: ConsoleResponse<unknown>, status: number, code: string): void {
  expect(res.status, res.text).toBe(status);
  expect(res.body).toMatchObject({ success: false, error: { code } });
  expect(res.headers.get('x-trace-id')).toMatch(/^[0-9a-f-]{36}$/);
  expect((res.body as { trace_id?: string }).trace_id).toBe(res.headers.get('x-trace-id'));
}

export interface ConsoleResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
  /** The raw Set-Cookie lines of this response. */
  setCookies: string[];
}

/** Where requests go: a running server's origin, or the app itself. */
export type ConsoleTarget = string | FastifyInstance;

interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
}

async function send(target: ConsoleTarget, method: string, path: string, headers: Record<string, string>, body: string | undefined): Promise<RawResponse> {
  if (typeof target === 'string') {
    const res = await fetch(`${target}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
    return { status: res.status, headers: res.headers, text: await res.text() };
  }
  // The Host a browser would send to this server (inject's default is localhost:80): the
  // console's same-origin check compares Origin with it.
  const address = target.server.address();
  const host = typeof address === 'object' && address !== null ? `${address.address}:${address.port}` : undefined;
  const res = await target.inject({
    method: method as 'GET',
    url: path,
    headers: { ...(host === undefined ? {} : { host }), ...headers },
    ...(body === undefined ? {} : { payload: body }),
  });
  // The same Headers a fetch answer has, Set-Cookie lines kept apart for getSetCookie().
  const answered = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) answered.append(name, String(one));
  }
  return { status: res.statusCode, headers: answered, text: res.body };
}

export class ConsoleClient {
  readonly target: ConsoleTarget;
  cookie: string | undefined;
  csrfToken: string | undefined;

  constructor(target: ConsoleTarget) {
    this.target = target;
  }

  /** A second browser logged in with the same cookie (to test what a stolen or old cookie can do). */
  clone(): ConsoleClient {
    const other = new ConsoleClient(this.target);
    other.cookie = this.cookie;
    other.csrfToken = this.csrfToken;
    return other;
  }

  async request<T = Record<string, unknown>>(
    method: string,
    path: string,
    options: { body?: unknown; csrf?: boolean | string; headers?: Record<string, string> } = {},
  ): Promise<ConsoleResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (this.cookie !== undefined) headers.cookie = `moongate_session=${this.cookie}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const csrf = options.csrf ?? method !== 'GET';
    if (typeof csrf === 'string') headers['x-csrf-token'] = csrf;
    else if (csrf && this.csrfToken !== undefined) headers['x-csrf-token'] = this.csrfToken;
    const res = await send(this.target, method, path, headers, options.body === undefined ? undefined : JSON.stringify(options.body));
    const text = res.text;
    const setCookies = res.headers.getSetCookie();
    for (const line of setCookies) {
      const match = /^moongate_session=([^;]*)/.exec(line);
      if (match !== null) this.cookie = match[1] === '' || /max-age=0/i.test(line) ? undefined : match[1];
    }
    const body = (text === '' ? {} : JSON.parse(text)) as T;
    const token = (body as { csrfToken?: unknown }).csrfToken;
    if (typeof token === 'string') this.csrfToken = token;
    return { status: res.status, headers: res.headers, body, text, setCookies };
  }

  /** A new person, registered (and so logged in) in a browser of their own. */
  static async newPerson(
    target: ConsoleTarget,
    email: string = uniqueEmail(),
    setupToken?: string,
  ): Promise<{ browser: ConsoleClient; email: string; id: string }> {
    const browser = new ConsoleClient(target);
    const res = await browser.register(email, CONSOLE_PASSWORD, setupToken);
    expect(res.status, res.text).toBe(201);
    return { browser, email, id: res.body.person.id };
  }

  /** With `setupToken` (the setup link's, see setupTokenOf), the registration of the first operator. */
  register(email: string, password: string, setupToken?: string) {
    return this.request<{ person: { id: string; email: string; role: string }; csrfToken: string }>('POST', '/api/register', {
      body: setupToken === undefined ? { email, password } : { email, password, setupToken },
    });
  }

  login(email: string, password: string) {
    return this.request<{ person: { id: string; email: string; role: string }; csrfToken: string }>('POST', '/api/login', {
      body: { email, password },
    });
  }
}
