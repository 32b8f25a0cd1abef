import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The absolute path of `file` in `workspace`'s build (`dist/…`), so a process runs what
 * production runs. `npm test` builds the workspaces this package depends on first, and
 * `npm run bench` builds before it runs; run `npm run build` before running such a test file alone.
 */
export function builtFile(workspace: string, file: string): string {
  const path = join(ROOT, workspace, file);
  if (!existsSync(path)) throw new Error(`${workspace}/${file} is not built: run \`npm run build\` first`);
  return path;
}
