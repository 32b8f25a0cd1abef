import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

// graphql 16 ships CJS (index.js) and ESM (index.mjs) without an exports map. Node loads
// the CJS one for Pothos and yoga; Vite would hand our sources the ESM one, and two copies
// of graphql reject each other's types. Every package's tests pin it to the file Node picks.
const graphql = createRequire(import.meta.url).resolve('graphql');

// Shared by every package's vitest.config.ts. Workspace packages resolve to their
// TypeScript sources through the `annex-source` export condition, so tests need no build.
export default defineConfig({
  resolve: {
    conditions: ['annex-source', 'node', 'development|production'],
    alias: [{ find: /^graphql$/, replacement: graphql }],
  },
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
