// The build of one workspace, run from its directory by its `build` script (turbo runs them in
// dependency order): a fresh `dist/` compiled by tsc from `tsconfig.build.json`, plus the
// non-TypeScript files the code reads at run time, copied from `src/<dir>` to `dist/<dir>` for
// every directory named on the command line (`node ../../scripts/build-workspace.mjs public`).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const cwd = process.cwd();
const assets = process.argv.slice(2);
for (const dir of assets) {
  if (!existsSync(join(cwd, 'src', dir))) {
    console.error(`build: src/${dir} does not exist in ${cwd}; name directories under src/ to copy into dist/`);
    process.exit(2);
  }
}

rmSync(join(cwd, 'dist'), { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const compiled = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd, stdio: 'inherit' });
if (compiled.status !== 0) process.exit(compiled.status ?? 1);
for (const dir of assets) cpSync(join(cwd, 'src', dir), join(cwd, 'dist', dir), { recursive: true });
