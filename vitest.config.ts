import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // At least two files at a time, even on 2 cores (Vitest's default there is one): most
    // tests wait on child processes, sockets and Chromium rather than on this process's CPU.
    // Each worker has a PostgreSQL database of its own (test/helpers/postgres.ts), so one
    // file dropping its schema never races another's migration (README, "Development").
    maxWorkers: Math.max(2, availableParallelism() - 1),
    // expect.poll's default of 1 s is shorter than a browser page takes to load and fetch on
    // a busy 2-core machine; a poll that succeeds returns as soon as it does.
    expect: { poll: { timeout: 15_000 } },
    reporters: ['default'],
  },
});
