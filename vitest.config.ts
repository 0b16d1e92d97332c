import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Vitest's default is one worker fewer than the cores, which on the 2-core CI machine is
    // one file at a time: most test files wait on child processes (the CLI, moongate, Chromium)
    // rather than compute, so two at a time took the suite from 12.7 to 9.5 minutes there
    // (README, "Development"). Larger machines keep the default.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    reporters: ['default'],
  },
});
