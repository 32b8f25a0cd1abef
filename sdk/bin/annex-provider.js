#!/usr/bin/env node
// The package runs its build (dist/, no tsx needed). A checkout of the SDK's sources runs
// them through tsx instead, so a build left in dist/ is never run stale.
import { existsSync } from 'node:fs';

const sources = new URL('../src/cli/bin.ts', import.meta.url);
if (existsSync(sources)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(sources.href);
} else {
  await import(new URL('../dist/cli/bin.js', import.meta.url).href);
}
