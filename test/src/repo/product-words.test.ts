import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The product's files speak of the product. A reader of README, docs, code comments or test
// names has no access to how Annex was built, so a sentence that points at a work session or
// an issue number tells them nothing. docs/benchmarks.md may date its runs and name machines.

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** Phrases that refer to how the code was built rather than what it is. */
const BUILD_HISTORY = [
  /\bsessions? \d+/i,
  /\bsessions \d+\s*[–-]\s*\d+/i,
  /\bissues? #?\d+/i,
  /\bthe open issues\b/i,
  /\bthis (work )?session\b/i,
];

function productFiles(): string[] {
  const listed = execFileSync('git', ['ls-files', '-co', '--exclude-standard'], { cwd: root, encoding: 'utf8' });
  return listed
    .split('\n')
    .filter((path) => /\.(ts|tsx|js|mjs|md|json|yaml|yml|css|html)$/.test(path) || path === '.ci/run')
    .filter((path) => !path.includes('node_modules/') && path !== 'package-lock.json')
    .filter((path) => path !== 'docs/benchmarks.md' && path !== 'test/src/repo/product-words.test.ts');
}

describe("the product's own words", () => {
  it('no file of the product names a work session or an issue number', () => {
    const found: string[] = [];
    for (const path of productFiles()) {
      let text: string;
      try {
        text = readFileSync(`${root}${path}`, 'utf8');
      } catch {
        continue; // listed by git but deleted in the working tree
      }
      text.split('\n').forEach((line, index) => {
        if (BUILD_HISTORY.some((pattern) => pattern.test(line))) found.push(`${path}:${index + 1}: ${line.trim()}`);
      });
    }
    expect(found).toEqual([]);
  });
});
