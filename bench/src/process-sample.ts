/**
 * CPU time and resident memory of any process, from /proc (Linux): the same measure for
 * moongate, the bare proxy and the fake upstream, without touching their code.
 */
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';

export interface ProcessSample {
  /** User plus system CPU time since the process started, in microseconds. */
  cpuUs: number;
  /** Resident set size (VmRSS), in bytes. */
  rssBytes: number;
}

/** Clock ticks per second for /proc/<pid>/stat's utime and stime (100 on every common Linux). */
export const CLOCK_TICKS = ((): number => {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
})();

export async function sampleProcess(pid: number): Promise<ProcessSample> {
  const [stat, status] = await Promise.all([readFile(`/proc/${pid}/stat`, 'utf8'), readFile(`/proc/${pid}/status`, 'utf8')]);
  // proc(5): the command name in parentheses may hold spaces; fields are counted after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rssKiB = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? Number.NaN);
  return { cpuUs: (ticks * 1_000_000) / CLOCK_TICKS, rssBytes: rssKiB * 1024 };
}

/** Samples a process's RSS every `everyMs` until stopped; returns the samples. */
export function watchRss(pid: number, everyMs: number): { stop(): Promise<Array<{ atMs: number; rssBytes: number }>> } {
  const samples: Array<{ atMs: number; rssBytes: number }> = [];
  const started = performance.now();
  let pending: Promise<void> = Promise.resolve();
  const take = (): void => {
    pending = sampleProcess(pid).then(
      (s) => void samples.push({ atMs: performance.now() - started, rssBytes: s.rssBytes }),
      () => undefined,
    );
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop: async () => {
      clearInterval(timer);
      await pending;
      take();
      await pending;
      return samples;
    },
  };
}
