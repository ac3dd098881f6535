import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Engine suites share one database server each; files run in parallel, each in its own schema.
    pool: 'forks',
    // s3rver's paged listings use a cipher that OpenSSL 3 only offers behind this flag (TRAPS.md).
    execArgv: ['--openssl-legacy-provider'],
  },
});
