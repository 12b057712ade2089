import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests start real agents, Prometheus and child processes on a 2-core machine:
    // a few files at a time keeps their timing honest.
    maxWorkers: 2,
  },
});
