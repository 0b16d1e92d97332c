import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Vitest's default worker count, one file at a time on 2 cores. Two at a time (tried on
    // 2026-12-06: the suite 12.7 → 9.5 minutes there) races the PostgreSQL suites: Kysely's
    // migrator lists the tables of every schema (`has_schema_privilege` on each name), and a
    // schema another file drops during that query fails the migration with "schema does not
    // exist" (README, "Development").
    reporters: ['default'],
  },
});
