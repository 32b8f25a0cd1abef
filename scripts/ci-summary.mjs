// Adds up every package's JUnit report into one closing line: "N passed, N failed, N skipped".
// Exits non-zero when no test ran at all, so an empty run never looks green.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const roots = ['packages', 'services', 'examples', '.'].flatMap((dir) => {
  try {
    return dir === '.' ? ['sdk', 'test'] : readdirSync(dir).map((d) => join(dir, d));
  } catch {
    return [];
  }
});
let tests = 0;
let failed = 0;
let skipped = 0;
for (const root of roots) {
  const file = join(root, 'test-results', 'junit.xml');
  try {
    statSync(file);
  } catch {
    continue;
  }
  const head = readFileSync(file, 'utf8').match(/<testsuites[^>]*>/)?.[0] ?? '';
  const attr = (name) => Number(head.match(new RegExp(`${name}="(\\d+)"`))?.[1] ?? 0);
  tests += attr('tests');
  failed += attr('failures') + attr('errors');
  skipped += attr('skipped');
}
console.log(`tests: ${tests - failed - skipped} passed, ${failed} failed, ${skipped} skipped`);
if (tests === 0) console.error('CI: no test ran');
if (skipped > 0 && process.env.ANNEX_REQUIRE_SERVERS === '1')
  console.error('CI: tests were skipped; every suite must run in CI');
process.exit(tests === 0 || (skipped > 0 && process.env.ANNEX_REQUIRE_SERVERS === '1') ? 1 : 0);
