import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Biome's import rules (biome.json) keep `kysely` out of every file outside a db/ folder; a
// query can still be built on an executor handed in from elsewhere, which no import rule
// sees. This reads the broker's sources for query builders outside db/.

const SRC = fileURLToPath(new URL('.', import.meta.url));
const QUERY_BUILDERS =
  /\.(selectFrom|selectNoFrom|insertInto|replaceInto|updateTable|deleteFrom|mergeInto)\(|\bsql(`|<|\.raw\()|\bexecutePrepared\(/;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'testing' ? [] : sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

/** `file:line: text` of every line outside a db/ folder that builds a query. */
function queriesOutsideDb(files: readonly { path: string; text: string }[]): string[] {
  return files.flatMap(({ path, text }) => {
    if (path.split(sep).includes('db')) return [];
    return text
      .split('\n')
      .flatMap((line, index) =>
        QUERY_BUILDERS.test(line) && !line.trim().startsWith('//') && !line.trim().startsWith('*')
          ? [`${path}:${index + 1}: ${line.trim()}`]
          : [],
      );
  });
}

describe('the broker layers', () => {
  it('finds a query built outside db/ (the check can fail)', () => {
    const found = queriesOutsideDb([
      { path: join('apps', 'domain', 'x.ts'), text: "await trx.selectFrom('apps').selectAll().execute();" },
      { path: join('apps', 'domain', 'y.ts'), text: 'await sql`select 1`.execute(db);' },
      { path: join('apps', 'db', 'z.ts'), text: "await trx.selectFrom('apps').selectAll().execute();" },
    ]);
    expect(found).toEqual([
      `${join('apps', 'domain', 'x.ts')}:1: await trx.selectFrom('apps').selectAll().execute();`,
      `${join('apps', 'domain', 'y.ts')}:1: await sql\`select 1\`.execute(db);`,
    ]);
  });

  it('builds every SQL statement in a db/ folder', () => {
    const files = sources(SRC)
      .filter((path) => relative(SRC, path) !== 'testing.ts')
      .map((path) => ({ path: relative(SRC, path), text: readFileSync(path, 'utf8') }));
    expect(files.length).toBeGreaterThan(50);
    expect(queriesOutsideDb(files)).toEqual([]);
  });
});
