/**
 * A real moongate on port 0: SQLite in a temp dir, the simulator at full speed unless a
 * provider is given, and a freshly minted token.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { loadConfig } from '../../src/config.js';
import type { Admitter } from '../../src/gateway/pipeline.js';
import type { Provider } from '../../src/providers/provider.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { mintToken } from './mint-token.js';

export interface TestServer {
  url: string;
  /** The server's DATA_DIR (its SQLite file), for the real CLI to work on the same store. */
  dataDir: string;
  token: string;
  /** The token of the one-time setup link the server printed (undefined: it had an operator). */
  setupToken: string | undefined;
  server: RunningServer;
  /** POSTs a JSON body to /kimi/chat/completions with this server's token. */
  chat(body: unknown): Promise<Response>;
  /** Mints another token for a person (created if missing). */
  mint(email: string): Promise<string>;
  close(): Promise<void>;
}

export async function startTestServer(
  options: {
    provider?: Provider;
    env?: Record<string, string>;
    logger?: Logger;
    admitter?: Admitter;
    webRoot?: false;
    /** The router's clock, for tests of cool-downs that move it by hand. */
    now?: () => number;
  } = {},
): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'moongate-test-'));
  const config = loadConfig({
    DATA_DIR: dataDir,
    PORT: '0',
    HOST: '127.0.0.1',
    MOONGATE_SIM_TTFT_MS: '0',
    MOONGATE_SIM_TOKENS_PER_S: '0',
    ...options.env,
  });
  const server = await startServer(config, {
    logger: options.logger ?? false,
    ...(options.provider ? { provider: options.provider } : {}),
    ...(options.admitter ? { admitter: options.admitter } : {}),
    ...(options.webRoot === false ? { webRoot: false } : {}),
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  const mint = (email: string): Promise<string> => mintToken(server.store, email);
  const token = await mint('ada@example.com');
  return {
    url: server.url,
    dataDir,
    token,
    setupToken: setupTokenOf(server),
    chat: (body) =>
      fetch(`${server.url}/kimi/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      }),
    server,
    mint,
    close: async () => {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The token in a server's one-time setup link (…/register#setup=<token>), if it printed one. */
export function setupTokenOf(server: Pick<RunningServer, 'setupUrl'>): string | undefined {
  return server.setupUrl === undefined ? undefined : new URL(server.setupUrl).hash.replace(/^#setup=/, '');
}
