#!/usr/bin/env node
// Runs the SDK's CLI from its build (dist/) in plain Node: the package ships it; a checkout of
// the sources makes it with `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = new URL('../dist/cli/bin.js', import.meta.url);
if (!existsSync(built)) {
  process.stderr.write(
    `annex-provider: the SDK is not built (${fileURLToPath(built)} is missing): run \`npm run build\` at the root of the checkout\n`,
  );
  process.exit(1);
}
await import(built.href);
