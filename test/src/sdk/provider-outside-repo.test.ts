import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { loadLocalConfig, type Marketplace, startMarketplace } from '@annex/local';
import { createLogger } from '@annex/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildToolsIn, processTree } from '../process-tree.js';

// A provider author's path with nothing but Node, npm and an Annex checkout: scaffold a project
// outside the repository, install it the way the scaffold says (the SDK from the tarball `init`
// packs, everything else from the npm registry or its cache), run it, pass the conformance kit,
// publish it to a running marketplace and provision through it.

const repoRoot = resolve(import.meta.dirname, '../../..');
const sdkBin = join(repoRoot, 'sdk/bin/annex-provider.js');

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const port = (server.address() as { port: number }).port;
  await new Promise((done) => server.close(done));
  return port;
}

/** The environment a person's shell has: none of the npm variables of the `npm test` running this file. */
function shellEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name) && name !== 'INIT_CWD' && name !== 'PORT'),
  );
  return { ...env, ...extra };
}

interface Ran {
  code: number | null;
  out: string;
}

/** Runs a command to its end (killed past `timeoutMs`), with its output. */
function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Ran> {
  return new Promise((done) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const timer = setTimeout(() => {
      out += `\n(killed after ${timeoutMs / 1000} s)`;
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    }, timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      done({ code, out });
    });
  });
}

/** `npm start` in the project; resolves once the provider says where it listens. */
function npmStart(project: string, env: NodeJS.ProcessEnv, started: ChildProcess[]): Promise<string> {
  const child = spawn('npm', ['start'], { cwd: project, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  started.push(child);
  let out = '';
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`the provider did not start within 60 s:\n${out}`)), 60_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
      if (url) {
        clearTimeout(timer);
        done(url);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`the provider exited with ${code}:\n${out}`));
    });
  });
}

/** Ends an `npm start` and everything under it (npm, its shell, node). */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  const exited = new Promise((done) => child.once('exit', done));
  process.kill(-child.pid, 'SIGTERM');
  await exited;
}

describe('a provider written outside the repository', () => {
  let dir: string;
  let project: string;
  let marketplace: Marketplace | undefined;
  const started: ChildProcess[] = [];
  let kitPort = 0;

  beforeAll(async () => {
    dir = realpathSync(await mkdtemp(join(tmpdir(), 'annex-outside-')));
    project = join(dir, 'acme-kv');
    kitPort = await freePort();
  });
  afterAll(async () => {
    for (const child of started) await stop(child);
    await marketplace?.close();
    await rm(dir, { recursive: true, force: true });
    await rm(join(tmpdir(), `annex-kit-${kitPort}.jwk.json`), { force: true });
  });

  it('goes from init to a published provider that an app gets config vars from, with the printed commands', async () => {
    expect(relative(repoRoot, dir).startsWith('..')).toBe(true);
    const providerPort = await freePort();

    // init, as `npx annex-provider init` runs it from the checkout: it packs the SDK into vendor/.
    const init = await run(
      process.execPath,
      [sdkBin, 'init', 'acme-kv', '--port', String(providerPort)],
      dir,
      shellEnv(),
      180_000,
    );
    expect(init.code, init.out).toBe(0);
    expect(init.out).toContain(`cd "${project}" && npm install`);
    expect(init.out).toContain('ANNEX_BROKER_URL=http://127.0.0.1:4999 npm start');
    expect(init.out).toContain('npm test');
    expect(existsSync(join(project, 'vendor/annex-sdk-0.1.0.tgz'))).toBe(true);
    const pkg = JSON.parse(await readFile(join(project, 'package.json'), 'utf8'));
    expect(pkg.dependencies['@annex/sdk']).toBe('file:vendor/annex-sdk-0.1.0.tgz');

    // npm install: the registry (or its cache) for everything but the SDK. npm waits 5 minutes on
    // a stalled registry connection by default; 30 s and a retry recover from one, and the http
    // log says which request it was if the install still fails.
    const install = await run(
      'npm',
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--fetch-timeout=30000',
        '--fetch-retries=4',
        '--loglevel=http',
      ],
      project,
      shellEnv(),
      300_000,
    );
    expect(install.code, install.out).toBe(0);
    const installed = join(project, 'node_modules/@annex/sdk');
    expect(realpathSync(installed).startsWith(project)).toBe(true); // a copy, not a link into the checkout
    expect(existsSync(join(installed, 'dist/index.js'))).toBe(true);
    expect(existsSync(join(installed, 'src'))).toBe(false);

    // Every entry point loads from the build, in plain Node.
    const imports = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const sdk = await import('@annex/sdk'); const kit = await import('@annex/sdk/conformance');
         const cli = await import('@annex/sdk/cli'); await import.meta.resolve('@annex/sdk/postgres');
         console.log(typeof sdk.defineProvider, typeof kit.runConformance, typeof cli.runCli, JSON.stringify(cli.EXIT_CODES));`,
      ],
      project,
      shellEnv(),
      60_000,
    );
    expect(imports.out.trim()).toBe('function function function {"ok":0,"refused":1,"usage":2,"unreachable":3}');
    const typecheck = await run('npm', ['run', 'typecheck'], project, shellEnv(), 120_000);
    expect(typecheck.code, typecheck.out).toBe(0);

    // The kit, through `npm test`, against the provider started as printed (on a free kit port).
    const kitBroker = `http://127.0.0.1:${kitPort}`;
    const forKit = await npmStart(project, shellEnv({ ANNEX_BROKER_URL: kitBroker }), started);
    expect(forKit).toBe(`http://127.0.0.1:${providerPort}`);
    // Its prestart compiled src/ into dist/, which runs in plain Node, the SDK's build with it.
    const provider = processTree(started.at(-1)?.pid as number);
    expect(
      provider.some((p) => /^\S*node dist\/server\.js$/.test(p.args)),
      JSON.stringify(provider),
    ).toBe(true);
    expect(buildToolsIn(provider)).toEqual([]);
    const kit = await run('npm', ['test', '--', '--broker-port', String(kitPort)], project, shellEnv(), 180_000);
    expect(kit.code, kit.out).toBe(0);
    expect(kit.out).toMatch(/^PASSED: \d+ passed, 0 failed, 0 warnings/m);
    await stop(started.pop() as ChildProcess);

    // The installed bin is the built one: init works from it too, packing the installed SDK as it is.
    const again = await run(
      join(project, 'node_modules/.bin/annex-provider'),
      ['init', 'second'],
      dir,
      shellEnv(),
      60_000,
    );
    expect(again.code, again.out).toBe(0);
    expect(existsSync(join(dir, 'second/vendor/annex-sdk-0.1.0.tgz'))).toBe(true);

    // A marketplace, the provider trusting its broker, `npm run publish`, then an add-on for an app.
    const env: Record<string, string> = {
      ANNEX_DATA_DIR: join(dir, 'marketplace'),
      ANNEX_SEED_DEMO: 'false',
      EXAMPLE_AI_ENABLED: 'false',
      CATALOG_PORT: '0',
      BROKER_PORT: '0',
      CONSOLE_PORT: '0',
      APPS_RECONCILE_MS: '100',
      LOG_LEVEL: 'silent',
    };
    marketplace = await startMarketplace(loadLocalConfig(env), env, createLogger('annex', 'silent'));
    const { adminToken, orgToken } = marketplace.credentials as { adminToken: string; orgToken: string };
    await npmStart(project, shellEnv({ ANNEX_BROKER_URL: marketplace.brokerUrl }), started);
    const published = await run(
      'npm',
      ['run', 'publish', '--', '--catalog', `${marketplace.catalogUrl}/graphql`],
      project,
      shellEnv({ ANNEX_TOKEN: adminToken }),
      60_000,
    );
    expect(published.code, published.out).toBe(0);
    expect(published.out).toContain('published acme-kv: revision 1');

    const gql = async (query: string, variables: Record<string, unknown>) => {
      const response = await fetch(`${marketplace?.catalogUrl}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${orgToken}` },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await response.json()) as {
        data?: Record<string, { __typename: string; message?: string }>;
        errors?: { message: string }[];
      };
      if (!body.data) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
      return body.data;
    };
    const app = await gql(
      'mutation($input: CreateAppInput!) { createApp(input: $input) { __typename ... on Error { message } } }',
      { input: { name: 'shop' } },
    );
    expect(app.createApp).toEqual({ __typename: 'CreateAppSuccess' });
    const addon = await gql(
      'mutation($input: CreateAddonInput!) { createAddon(input: $input) { __typename ... on Error { message } } }',
      { input: { app: 'shop', plan: 'acme-kv-store:starter' } },
    );
    expect(addon.createAddon).toEqual({ __typename: 'CreateAddonSuccess' });
    // The add-on is provisioned and attached in the background: pull the app's vars until they come.
    let vars: Record<string, string> = {};
    const deadline = Date.now() + 60_000;
    while (!vars.STORE_URL && Date.now() < deadline) {
      await new Promise((done) => setTimeout(done, 200));
      const response = await fetch(`${marketplace.brokerUrl}/v1/apps/shop/config-vars`, {
        headers: { authorization: `Bearer ${orgToken}` },
      });
      vars = ((await response.json()) as { vars?: Record<string, string> }).vars ?? {};
    }
    // The credentials the provider's bind handler made, in the app's environment.
    expect(vars.STORE_URL).toMatch(/^kv:\/\/[\w-]+@127\.0\.0\.1\/[\w-]+$/);
  }, 900_000);
});
