/** The harness's side of the built-in loader: one child process for the run, jobs sent over IPC. */
import type { ChildProcess } from 'node:child_process';
import { forkBenchChild, stopChild } from './bench-child.js';
import { isChildMessage, type LoadJob, type LoadResult } from './child-messages.js';
import type { NodeLoadSettings } from './node-loader.js';

interface Waiter {
  resolve(result: LoadResult): void;
  reject(error: Error): void;
}

export class NodeLoaderClient {
  private child: ChildProcess | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, Waiter>();

  /** Runs one job; several may run at once. */
  run(settings: NodeLoadSettings): Promise<LoadResult> {
    const child = this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      const job: LoadJob = { type: 'load', id, settings };
      child.send(job);
    });
  }

  async close(): Promise<void> {
    if (this.child !== undefined) await stopChild(this.child);
  }

  /** Forked on first use, so a run that never needs it never starts it. */
  private start(): ChildProcess {
    if (this.child !== undefined) return this.child;
    const child = forkBenchChild('node-loader.js', {});
    child.on('message', (message: unknown) => {
      if (!isChildMessage(message) || message.type !== 'load-result' || message.id === undefined) return;
      const waiter = this.waiting.get(message.id);
      this.waiting.delete(message.id);
      waiter?.resolve(message);
    });
    child.once('exit', (code) => {
      for (const waiter of this.waiting.values()) waiter.reject(new Error(`the load generator exited (code ${code})`));
      this.waiting.clear();
    });
    this.child = child;
    return child;
  }
}
