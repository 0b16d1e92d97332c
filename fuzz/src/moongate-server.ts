/**
 * The moongate the fuzzer attacks: the compiled server (`bin/moongate.js serve`) in its own
 * process on port 0, SQLite in a temp DATA_DIR, the simulator at full speed, /metrics on
 * with an operator token, and a global credential with a large balance made by the CLI.
 * Started by the bench's launcher (bench/src/moongate-process.ts), so the fuzzer attacks
 * moongate exactly as the bench measures it; only the settings below differ.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { liveHeapBytes } from '../../bench/src/live-heap.js';
import { startMoongate } from '../../bench/src/moongate-process.js';

export interface FuzzTarget {
  pid: number;
  port: number;
  url: string;
  token: string;
  metricsToken: string;
  /** Resident memory of the server process, in bytes (Linux /proc; undefined elsewhere). */
  rss(): Promise<number | undefined>;
  /** The live heap after a full collection, over the V8 inspector (opened by SIGUSR1 on first use). */
  liveHeap(): Promise<number>;
  /** Whether the process is still running. */
  alive(): boolean;
  stop(): Promise<void>;
}

/** `log` gets moongate's stderr lines (none by default: at LOG_LEVEL=error it has little to say). */
export async function startFuzzTarget(log: (line: string) => void = () => {}): Promise<FuzzTarget> {
  const metricsToken = randomBytes(24).toString('hex');
  const server = await startMoongate(undefined, log, {
    env: { LOG_LEVEL: 'error', MOONGATE_SIM_TTFT_MS: '0', MOONGATE_SIM_TOKENS_PER_S: '0', METRICS_TOKEN: metricsToken },
    // Limits lifted (credential and person) so the fuzzer's cases reach the parser and the pipeline rather than a 429.
    globalCredential: true,
    balance: '100000000',
  });
  const { pid } = server;
  return {
    pid,
    port: Number(new URL(server.url).port),
    url: server.url,
    token: server.token,
    metricsToken,
    rss: async () => {
      try {
        const status = await readFile(`/proc/${pid}/status`, 'utf8');
        const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
        return kb === undefined ? undefined : Number(kb) * 1024;
      } catch {
        return undefined;
      }
    },
    liveHeap: async () => liveHeapBytes(await server.inspector()),
    alive: () => server.alive(),
    stop: () => server.stop(),
  };
}
