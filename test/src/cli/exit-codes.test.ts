import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT_CODES as ANNEX_EXIT_CODES, runCli as runAnnex } from '@annex/cli';
import { EXIT_CODES as PROVIDER_EXIT_CODES, runCli as runProvider } from '@annex/sdk/cli';
import { describe, expect, it } from 'vitest';

// One script may run both `annex` and `annex-provider`: a code means the same in each. The
// CLI keeps its own table (it ships without the SDK); this test keeps the two in step, with
// what each README says and what each command line exits with.

const root = new URL('../../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

/** The root README's "Exit codes: 0 done, 1 refused …" line, as code → its first word. */
function annexDocumented(): Map<number, string> {
  const line = read('README.md')
    .split('\n\n')
    .find((paragraph) => paragraph.startsWith('Exit codes:'));
  if (!line) throw new Error('README.md has no "Exit codes:" paragraph');
  return new Map([...line.matchAll(/\b(\d+):? (\w+)/g)].map((m) => [Number(m[1]), m[2] as string]));
}

/** The SDK README's table of exit codes, as code → the first word of its meaning. */
function providerDocumented(): Map<number, string> {
  return new Map(
    [...read('sdk/README.md').matchAll(/^\| (\d+) \| (\w+)/gm)].map((m) => [Number(m[1]), m[2] as string]),
  );
}

const io = () => {
  const lines: string[] = [];
  return { lines, stdout: (t: string) => lines.push(t), stderr: (t: string) => lines.push(t) };
};
const annex = (argv: string[]) =>
  runAnnex(argv, { catalogUrl: undefined, token: undefined, configDir: join(tmpdir(), 'annex-exit-codes') }, io());
const provider = (argv: string[]) => runProvider(argv, { ...io(), cwd: tmpdir(), env: {} });
// Nothing listens on the discard port.
const nowhere = 'http://127.0.0.1:9';

describe('exit codes of annex and annex-provider', () => {
  it('give each code the same name in both tables', () => {
    for (const [name, code] of Object.entries(PROVIDER_EXIT_CODES)) {
      expect({ name, code: ANNEX_EXIT_CODES[name as keyof typeof ANNEX_EXIT_CODES] }).toEqual({ name, code });
    }
  });

  it('are documented as they are, with the same meaning in both READMEs', () => {
    const annexDocs = annexDocumented();
    const providerDocs = providerDocumented();
    expect([...annexDocs.keys()].sort((a, b) => a - b)).toEqual(Object.values(ANNEX_EXIT_CODES));
    expect([...providerDocs.keys()].sort((a, b) => a - b)).toEqual(Object.values(PROVIDER_EXIT_CODES));
    for (const [code, word] of providerDocs) expect({ code, word: annexDocs.get(code) }).toEqual({ code, word });
  });

  it('are what both command lines exit with', async () => {
    expect(await annex(['help'])).toBe(ANNEX_EXIT_CODES.ok);
    expect(await provider(['help'])).toBe(PROVIDER_EXIT_CODES.ok);

    expect(await annex(['frobnicate'])).toBe(ANNEX_EXIT_CODES.usage);
    expect(await provider(['frobnicate'])).toBe(PROVIDER_EXIT_CODES.usage);
    expect(await annex(['marketplace', '--frobnicate'])).toBe(ANNEX_EXIT_CODES.usage);
    expect(await provider(['publish', '--frobnicate'])).toBe(PROVIDER_EXIT_CODES.usage);

    expect(await annex(['marketplace', '--catalog', `${nowhere}/graphql`])).toBe(ANNEX_EXIT_CODES.unreachable);
    expect(await provider(['test', nowhere, '--basic', 'user:password'])).toBe(PROVIDER_EXIT_CODES.unreachable);

    expect(await provider(['publish', 'no-such-manifest.json'])).toBe(PROVIDER_EXIT_CODES.refused);
  });
});
