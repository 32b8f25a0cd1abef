#!/usr/bin/env node
// Runs the built CLI (dist/, made by `npm run build`, which `npm start` runs first) in plain Node.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = new URL('../dist/main.js', import.meta.url);
if (!existsSync(built)) {
  process.stderr.write(
    `annex: the CLI is not built (${fileURLToPath(built)} is missing): run \`npm run build\` at the root of the checkout\n`,
  );
  process.exit(1);
}
await import(built.href);
