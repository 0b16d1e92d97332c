/**
 * moongate's live heap: what is still reachable after a full garbage collection, read over
 * the V8 inspector protocol. RSS cannot tell a leak from a heap that is still finding its
 * size (it climbs for minutes after a burst of load, then stays), so the soak reports this
 * beside it: objects a leak keeps are counted here and nothing else is.
 *
 * moongate starts with `--inspect-port=127.0.0.1:0`, which only picks where an inspector
 * would listen: nothing listens during the throughput phases. SIGUSR1 opens it when the
 * memory phase first asks, and node prints its address on stderr.
 */
import { WebSocket } from 'undici';

export const INSPECT_PORT_FLAG = '--inspect-port=127.0.0.1:0';
/** The line node prints on stderr when its inspector starts listening. */
export const INSPECTOR_LISTENING = /Debugger listening on (ws:\/\/\S+)/;
/** node's own lines around the inspector, which the bench does not echo as moongate's. */
export const INSPECTOR_NOISE = /^(Debugger (listening on |attached\.|ending on )|For help, see: https:\/\/nodejs\.org\/)/;

const CALL_TIMEOUT_MS = 60_000;

interface Reply {
  id: number;
  result?: { usedSize?: number };
  error?: { message: string };
}

/** Collects garbage in the process behind `url`, then returns its used heap in bytes. */
export async function liveHeapBytes(url: string): Promise<number> {
  const socket = new WebSocket(url);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.onopen = () => resolve();
      socket.onerror = () => reject(new Error(`could not reach the inspector at ${url}`));
    });
    const waiting = new Map<number, (reply: Reply) => void>();
    socket.onmessage = (event) => {
      const reply = JSON.parse(String(event.data)) as Reply;
      waiting.get(reply.id)?.(reply);
    };
    let next = 0;
    const call = (method: string): Promise<Reply> =>
      new Promise((resolve, reject) => {
        const id = ++next;
        const timer = setTimeout(() => reject(new Error(`the inspector did not answer ${method}`)), CALL_TIMEOUT_MS);
        waiting.set(id, (reply) => {
          clearTimeout(timer);
          if (reply.error !== undefined) reject(new Error(`${method}: ${reply.error.message}`));
          else resolve(reply);
        });
        socket.send(JSON.stringify({ id, method }));
      });
    await call('HeapProfiler.collectGarbage');
    const usage = await call('Runtime.getHeapUsage');
    const used = usage.result?.usedSize;
    if (typeof used !== 'number') throw new Error('Runtime.getHeapUsage gave no usedSize');
    return used;
  } finally {
    socket.close();
  }
}
