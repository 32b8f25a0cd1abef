import { defineConfig } from 'vitest/config';

// Shared by every package's vitest.config.ts. Workspace packages resolve to their
// TypeScript sources through the `annex-source` export condition, so tests need no build.
export default defineConfig({
  resolve: { conditions: ['annex-source', 'node', 'development|production'] },
  ssr: { resolve: { conditions: ['annex-source', 'node', 'development|production'] } },
  test: {
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: process.env.CI ? ['default', 'junit'] : ['default'],
    outputFile: { junit: 'test-results/junit.xml' },
  },
});
