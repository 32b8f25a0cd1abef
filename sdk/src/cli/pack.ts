import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError, EXIT_CODES } from './exit-codes.js';

// This file is src/cli/pack.ts in a checkout and dist/cli/pack.js in the package: the
// package's root is two levels up either way.
const packageRoot = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Annex's own packages the SDK depends on. They are packed beside it, so that a project
 * installing the SDK from a tarball does not look for them in a registry that may not have
 * them.
 */
const COMPANIONS = ['@annex/tracing'] as const;

/**
 * Packs the SDK this CLI runs from into `destination` with `npm pack`, with the Annex
 * packages it depends on (`COMPANIONS`), and returns the tarballs' file names. The CLI runs
 * from `dist/`, so that build is what is packed, as it is (`--ignore-scripts`: no `prepack`
 * rebuild under a running CLI); a checkout builds it with `npm run build`.
 */
export async function packSdk(destination: string): Promise<{ sdk: string; companions: Record<string, string> }> {
  const sdk = await packPackage(packageRoot, destination);
  const companions: Record<string, string> = {};
  const require = createRequire(join(packageRoot, 'package.json'));
  for (const name of COMPANIONS) {
    companions[name] = await packPackage(dirname(require.resolve(`${name}/package.json`)), destination);
  }
  return { sdk, companions };
}

async function packPackage(packageRoot: string, destination: string): Promise<string> {
  const { name, version } = JSON.parse(await readFile(join(packageRoot, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
  };
  if (!existsSync(join(packageRoot, 'dist', 'index.js'))) {
    throw new CliError(
      `${packageRoot} is not built (no dist/index.js): run \`npm run build\` at the root of the checkout, or pass --sdk <npm dependency spec>`,
      EXIT_CODES.refused,
    );
  }
  await mkdir(destination, { recursive: true });
  const args = ['pack', '--pack-destination', destination, '--ignore-scripts'];
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
    // npm is a .cmd script on Windows, which only a shell runs.
    const child = spawn('npm', args, {
      cwd: packageRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      shell: process.platform === 'win32',
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('error', (error) => resolve({ code: null, output: error.message }));
    child.once('close', (exitCode) => resolve({ code: exitCode, output }));
  });
  // npm names the tarball after the package: @annex/sdk 0.1.0 is annex-sdk-0.1.0.tgz.
  const file = `${name.replace(/^@/, '').replace('/', '-')}-${version}.tgz`;
  if (code !== 0 || !existsSync(join(destination, file))) {
    throw new CliError(
      `could not pack ${name} in ${packageRoot} with \`npm ${args.join(' ')}\`; pass --sdk <npm dependency spec> to depend on a published or packed SDK instead`,
      EXIT_CODES.refused,
      output.trim().split('\n').slice(-15),
    );
  }
  return file;
}
