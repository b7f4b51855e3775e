import { defineConfig } from 'vitest/config';

// Two projects: `unit` (no servers, files in parallel) and `integration` (test/ folders,
// real redis-server and s3rver started by the global setup, one file at a time so that
// CPU-heavy workers on 2 cores do not starve each other into false stalls).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: [
            'apps/*/src/**/*.test.ts',
            'libs/*/src/**/*.test.ts',
            'bench/**/*.test.ts',
            'scripts/**/*.test.ts',
            'infra/test/*.test.ts',
          ],
          testTimeout: 120_000,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['apps/*/test/**/*.test.ts', 'libs/*/test/**/*.test.ts', 'infra/test/topology/*.test.ts'],
          globalSetup: ['test-support/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 240_000,
          hookTimeout: 120_000,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
