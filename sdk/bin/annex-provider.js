#!/usr/bin/env node
// The published package runs its build; a checkout without one runs the TypeScript
// sources through tsx, so `npx annex-provider` works right after `npm install`.
import { existsSync } from 'node:fs';

const built = new URL('../dist/cli/bin.js', import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../src/cli/bin.ts', import.meta.url).href);
}
