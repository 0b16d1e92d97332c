/**
 * `moongate serve`: starts the server and stops it gracefully on SIGTERM or SIGINT: new
 * requests are refused, running ones may finish for up to drainMs (moongate.config.json),
 * the rest are aborted and settle as aborted, the store closes, and the process exits 0
 * (docs/operations.md, "Shutdown").
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Command } from 'commander';
import { loadConfig } from '../config.js';

export function registerServeCommand(program: Command): void {
  program
    .command('serve', { isDefault: true })
    .description('serve the API (the default command); settings come from the environment, see README')
    .option('--port <port>', 'port to listen on (PORT, default 8700)')
    .option('--host <host>', 'address to listen on (HOST, default 127.0.0.1)')
    .action(async (opts: { port?: string; host?: string }) => {
      const env = { ...process.env };
      if (opts.port !== undefined) env.PORT = opts.port;
      if (opts.host !== undefined) env.HOST = opts.host;
      const config = loadConfig(env);
      // Loaded here so that other commands start fast.
      const [{ startServer }, { describeChannel }] = await Promise.all([
        import('../server.js'),
        import('../channels/create-channel-provider.js'),
      ]);
      const server = await startServer(config, { env });
      compactAfterStart();
      const store = config.databaseUrl === undefined ? `SQLite in ${config.dataDir}` : 'PostgreSQL (DATABASE_URL)';
      const channels = server.channels.map((c) => `\n    ${describeChannel(c)}`).join('');
      process.stdout.write(
        `moongate is listening on ${server.url}\n` +
          (server.consoleServed
            ? `  console:  open ${server.url}/ in a browser\n`
            : `  console:  not built (run npm run build:web); ${server.url}/ shows how to call the API\n`) +
          (server.setupUrl === undefined
            ? ''
            : `  setup:    open ${server.setupUrl} to create the operator's account (works once, for an hour; or: npx moongate admin create --email you@example.com)\n`) +
          `  API:      POST ${server.url}/kimi/chat/completions  (OpenAI SDKs: baseURL ${server.url}/v1)\n` +
          `  channels:${channels}\n` +
          `  store:    ${store}\n` +
          `  a token:  npx moongate credential create --email you@example.com\n`,
      );
      let closing = false;
      const shutdown = (signal: string): void => {
        if (closing) return;
        closing = true;
        server.app.log.info({ signal, drainMs: config.channelsFile.drainMs }, 'shutting down: draining requests');
        server.shutdown().then(
          () => {
            server.app.log.info('shut down');
            process.exit(0);
          },
          (error: unknown) => {
            server.app.log.error({ err: error }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.once('SIGINT', () => shutdown('SIGINT'));
      process.once('SIGTERM', () => shutdown('SIGTERM'));
    });
}

/**
 * One full garbage collection once the server has started. Loading the tokenizer's 200,000
 * ranks leaves about 17 MiB of garbage behind (the parsed JSON it was built from), which V8
 * would keep until the heap first grows enough for a full collection: the idle process sat
 * on it, and every limit V8 computes from the heap's size started that much higher. V8's
 * collector is reached through `--expose-gc`, set for this one call and left unused after.
 */
function compactAfterStart(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (() => void) | undefined;
  gc?.();
}
