import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

// The clients' documents are typed from src/generated/graphql-env.d.ts; when the catalog's
// schema changes, the file must be regenerated so that `npm run typecheck` checks against it.
describe('the typed schema of the catalog’s GraphQL clients', () => {
  const dir = mkdtempSync(join(tmpdir(), 'annex-contracts-graphql-env-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("is generated from the catalog's committed schema (npm run graphql-env -w @annex/contracts)", async () => {
    const output = join(dir, 'graphql-env.d.ts');
    const cli = join(dirname(createRequire(import.meta.url).resolve('gql.tada/package.json')), 'bin', 'cli.js');
    const tsconfig = fileURLToPath(new URL('../tsconfig.json', import.meta.url));
    await promisify(execFile)(process.execPath, [cli, 'generate-output', '--tsconfig', tsconfig, '--output', output]);
    const committed = readFileSync(new URL('./generated/graphql-env.d.ts', import.meta.url), 'utf8');
    expect(readFileSync(output, 'utf8')).toBe(committed);
  });
});
