/** Forks the bench's own child processes (compiled next to this file) and talks to them over IPC. */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isChildMessage, type ChildMessage } from './child-messages.js';

export interface ChildOptions {
  /**
   * The child's stdout goes to a pipe the harness reads and drops, as moongate's access log
   * does (moongate-process.ts), so a child that logs pays what moongate pays for it.
   */
  dropStdout?: boolean;
  /** node's flags for the child (by default this process's own). */
  nodeFlags?: string[];
}

export function forkBenchChild(script: string, env: Record<string, string>, options: ChildOptions = {}): ChildProcess {
  const path = fileURLToPath(new URL(`./${script}`, import.meta.url));
  const child = fork(path, [], {
    env: { ...process.env, ...env },
    stdio: ['ignore', options.dropStdout === true ? 'pipe' : 'inherit', 'inherit', 'ipc'],
    ...(options.nodeFlags === undefined ? {} : { execArgv: options.nodeFlags }),
  });
  child.stdout?.resume();
  return child;
}

/** The next message of a type from a child; rejects if it exits first or the time runs out. */
export function nextMessage<T extends ChildMessage['type']>(
  child: ChildProcess,
  type: T,
  timeoutMs: number,
): Promise<Extract<ChildMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (message: unknown): void => {
      if (isChildMessage(message) && message.type === type) {
        cleanup();
        resolve(message as Extract<ChildMessage, { type: T }>);
      }
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new Error(`bench child exited (code ${code}) before sending ${type}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`bench child sent no ${type} within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** Ends a child and waits for it to be gone. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await gone;
  clearTimeout(timer);
}
