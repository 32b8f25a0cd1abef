import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPlainBroker } from '../__fixtures__/plain-broker.js';
import { widgetsManifest } from '../__fixtures__/widgets.js';
import { type CliIo, runCli } from './main.js';

const repoRoot = resolve(import.meta.dirname, '../../..');

function captureIo(cwd: string): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, cwd, env: {}, stdout: (line) => out.push(line), stderr: (line) => err.push(line) };
}

// Written out here, not imported, so a change to the CLI's mutation text fails this test.
const EXPECTED_MUTATION =
  'mutation Publish($manifest: JSON!) { publishManifest(manifest: $manifest) { __typename ... on ManifestPublished { revision unchanged provider { slug } pendingReviews { serviceSlug } } ... on ManifestInvalid { message problems { path message } } ... on Error { message } } }';

describe('annex-provider publish', () => {
  let dir: string;
  let catalogUrl: string;
  let close: () => Promise<void>;
  let osb: Awaited<ReturnType<typeof startPlainBroker>>;
  const received: { query: string; variables: { manifest: { slug: string } }; authorization?: string }[] = [];
  let answer: unknown;
  let status = 200;

  /** The widgets manifest, served at `osbUrl` (default: a real OSB endpoint that answers). */
  const writeManifest = (osbUrl = osb.url) =>
    writeFile(join(dir, 'annex.json'), JSON.stringify({ ...widgetsManifest(), osb: { url: osbUrl } }));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'annex-publish-'));
    osb = await startPlainBroker({ username: 'broker', password: 'pw' });
    const app = express();
    app.use(express.json({ limit: '5mb' }));
    app.post('/graphql', (req, res) => {
      received.push({ ...req.body, authorization: req.headers.authorization });
      res.status(status).json(answer);
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((r) => server.once('listening', () => r()));
    catalogUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
    close = () => new Promise<void>((r) => server.close(() => r()));
  });
  afterAll(async () => {
    await close();
    await osb.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('prints every problem of a bad manifest with its path, exits 1 and sends nothing', async () => {
    const bad = widgetsManifest() as Record<string, any>;
    bad.slug = 'Not A Slug';
    bad.services[0].plans[1].id = bad.services[0].plans[0].id;
    bad.services[0].category = 'toys';
    await writeFile(join(dir, 'bad.json'), JSON.stringify(bad));
    const io = captureIo(dir);
    const before = received.length;
    const code = await runCli(['publish', 'bad.json', '--catalog', catalogUrl, '--token', 't'], io);
    expect(code).toBe(1);
    const text = io.err.join('\n');
    expect(text).toMatch(/^error: bad\.json is not a valid manifest \(3 problems\)/);
    expect(text).toContain('  slug: must be lowercase letters');
    expect(text).toContain('  services.0.plans.1.id: duplicate plan id');
    expect(text).toMatch(/ {2}services\.0\.category: /);
    expect(received.length).toBe(before);
  });

  it('sends the exact mutation with the token and prints the published revision', async () => {
    await writeManifest();
    answer = {
      data: {
        publishManifest: {
          __typename: 'ManifestPublished',
          revision: 3,
          unchanged: false,
          provider: { slug: 'widgets-inc' },
        },
      },
    };
    const io = captureIo(dir);
    io.env.ANNEX_TOKEN = 'annex_org_secret';
    const code = await runCli(['publish', '--catalog', catalogUrl], io);
    expect(io.err).toEqual([]);
    expect(code).toBe(0);
    expect(io.out.join('\n')).toContain('published widgets-inc: revision 3');
    const last = received.at(-1);
    expect(last?.query).toBe(EXPECTED_MUTATION);
    expect(last?.variables.manifest.slug).toBe('widgets-inc');
    expect(last?.authorization).toBe('Bearer annex_org_secret');
  });

  it('refuses a manifest whose OSB URL does not answer, naming it, unless --force', async () => {
    const silent = `http://127.0.0.1:${await freePort()}`;
    await writeManifest(silent);
    const before = received.length;
    const refused = captureIo(dir);
    expect(await runCli(['publish', '--catalog', catalogUrl, '--token', 't'], refused)).toBe(3);
    expect(refused.err.join('\n')).toMatch(
      new RegExp(
        `^error: the manifest's osb.url ${silent} does not answer as an OSB endpoint \\(GET ${silent}/v2/catalog failed: ECONNREFUSED\\).*--force`,
      ),
    );
    expect(received.length).toBe(before);

    // The catalog's own base URL answers, but 404: not where the OSB endpoints are.
    const elsewhere = new URL(catalogUrl).origin;
    await writeManifest(elsewhere);
    const notOsb = captureIo(dir);
    expect(await runCli(['publish', '--catalog', catalogUrl, '--token', 't'], notOsb)).toBe(3);
    expect(notOsb.err.join('\n')).toContain(`GET ${elsewhere}/v2/catalog answered 404`);
    expect(received.length).toBe(before);

    await writeManifest(silent);
    answer = {
      data: { publishManifest: { __typename: 'ManifestPublished', revision: 4, provider: { slug: 'widgets-inc' } } },
    };
    const forced = captureIo(dir);
    expect(await runCli(['publish', '--catalog', catalogUrl, '--token', 't', '--force'], forced)).toBe(0);
    expect(forced.err.join('\n')).toMatch(
      new RegExp(`^warning: the manifest's osb.url ${silent} does not answer .*publishing anyway`),
    );
    expect(forced.out.join('\n')).toContain('published widgets-inc: revision 4');
    expect(received.length).toBe(before + 1);
  });

  it('prints the catalog’s refusal and exits 1', async () => {
    await writeManifest();
    answer = {
      data: {
        publishManifest: {
          __typename: 'ManifestInvalid',
          message: 'manifest refused',
          problems: [{ path: 'services.0.id', message: 'belongs to another provider' }],
        },
      },
    };
    const io = captureIo(dir);
    expect(await runCli(['publish', 'annex.json', '--catalog', catalogUrl, '--token', 't'], io)).toBe(1);
    expect(io.err.join('\n')).toBe(
      'error: the catalog refused the manifest: manifest refused\n  services.0.id: belongs to another provider',
    );
    answer = { data: { publishManifest: { __typename: 'NotAuthorized', message: 'token may not publish' } } };
    const denied = captureIo(dir);
    expect(await runCli(['publish', 'annex.json', '--catalog', catalogUrl, '--token', 't'], denied)).toBe(1);
    expect(denied.err.join('\n')).toMatch(/^error: publishing failed: token may not publish/);
  });

  it('exits 3 without a token, with a refused token, and with a catalog that does not answer', async () => {
    await writeManifest();
    const before = received.length;
    const io = captureIo(dir);
    expect(await runCli(['publish', 'annex.json', '--catalog', catalogUrl], io)).toBe(3);
    expect(io.err.join('\n')).toBe('error: no catalog token: pass --token or set ANNEX_TOKEN');
    expect(received.length).toBe(before);

    status = 401;
    answer = { errors: [{ message: 'unknown token' }] };
    const refused = captureIo(dir);
    try {
      expect(await runCli(['publish', 'annex.json', '--catalog', catalogUrl, '--token', 'wrong'], refused)).toBe(3);
    } finally {
      status = 200;
    }
    expect(refused.err.join('\n')).toBe('error: the catalog refused the token (401): unknown token');

    const nowhere = `http://127.0.0.1:${await freePort()}/graphql`;
    const away = captureIo(dir);
    expect(await runCli(['publish', 'annex.json', '--catalog', nowhere, '--token', 't'], away)).toBe(3);
    expect(away.err.join('\n')).toBe(`error: cannot reach the catalog at ${nowhere}: ECONNREFUSED`);
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/**
 * Spawns a project's `src/server.ts` with tsx and resolves its URL once it listens; `port`
 * null leaves PORT unset, so the server listens where its manifest says.
 */
async function startProject(
  project: string,
  brokerPort: number,
  children: ChildProcess[],
  port: number | null = 0,
): Promise<string> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    ANNEX_BROKER_URL: `http://127.0.0.1:${brokerPort}`,
  };
  if (port === null) delete env.PORT;
  else env.PORT = String(port);
  const child = spawn(join(repoRoot, 'node_modules/.bin/tsx'), ['--conditions=annex-source', 'src/server.ts'], {
    cwd: project,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  return new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`provider did not start:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolveUrl(match[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`provider exited with ${code}:\n${output}`)));
  });
}

/** Runs `annex-provider test` in a project (its manifest's URL without `url`); returns the parsed report. */
async function kit(project: string, url: string | undefined, brokerPort: number) {
  const io = captureIo(project);
  const code = await runCli(['test', ...(url ? [url] : []), '--broker-port', String(brokerPort), '--json'], io);
  const report = JSON.parse(io.out.join('\n'));
  const not = (status: string) => report.checks.filter((c: { status: string }) => c.status === status);
  return { code, report, failures: not('fail'), warnings: not('warn') };
}

describe('annex-provider init', () => {
  let dir: string;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'annex-init-'));
  });
  afterAll(async () => {
    for (const child of children) child.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  });

  // These projects run on the workspace's node_modules: they depend on any SDK spec, not on a
  // packed tarball (test/src/sdk/outside-repo.test.ts installs one).
  async function scaffold(name: string, extra: string[] = [], env: Record<string, string> = {}): Promise<string> {
    const project = join(dir, name);
    const io = captureIo(dir);
    Object.assign(io.env, env);
    expect(await runCli(['init', name, '--sdk', '^0.1.0', ...extra], io)).toBe(0);
    await symlink(join(repoRoot, 'node_modules'), join(project, 'node_modules'), 'dir');
    return project;
  }

  it('scaffolds a provider on the port given, which runs there and passes the kit without a warning', async () => {
    const port = await freePort();
    const project = await scaffold('acme-kv', ['--port', String(port)]);
    const manifest = JSON.parse(await readFile(join(project, 'annex.json'), 'utf8'));
    expect(manifest.slug).toBe('acme-kv');
    expect(manifest.osb.url).toBe(`http://127.0.0.1:${port}`);
    const pkg = JSON.parse(await readFile(join(project, 'package.json'), 'utf8'));
    expect(pkg.dependencies['@annex/sdk']).toBe('^0.1.0');
    expect(pkg.scripts.test).toBe('annex-provider test --manifest annex.json');
    const again = captureIo(dir);
    expect(await runCli(['init', 'acme-kv', '--sdk', '^0.1.0'], again)).toBe(2); // not over an existing project
    expect(again.err[0]).toBe(`error: ${project} is not empty; pass --force to write into it`);
    const brokerPort = await freePort();
    // No PORT: the server listens on the manifest's port, and the kit tests the manifest's URL.
    const url = await startProject(project, brokerPort, children, null);
    expect(url).toBe(`http://127.0.0.1:${port}`);
    const { code, report, failures, warnings } = await kit(project, undefined, brokerPort);
    expect(failures).toEqual([]);
    expect(warnings).toEqual([]);
    expect(code).toBe(0);
    expect(report.url).toBe(`http://127.0.0.1:${port}`);
    expect(report.mode).toBe('jwt');
    expect(
      report.checks.some((c: { name: string }) => c.name === '[acme-kv-store/pro] async: provision completes'),
    ).toBe(true);
    // A re-run at once reuses the kit's key (kept per port), so the provider's cached JWKS still works.
    const rerun = await kit(project, url, brokerPort);
    expect(rerun.failures).toEqual([]);
    await rm(join(tmpdir(), `annex-kit-${brokerPort}.jwk.json`), { force: true });
  });

  it('takes the port from PORT, and refuses a port that is not one', async () => {
    const project = await scaffold('env-kv', [], { PORT: '4567' });
    expect(JSON.parse(await readFile(join(project, 'annex.json'), 'utf8')).osb.url).toBe('http://127.0.0.1:4567');
    expect(await readFile(join(project, 'README.md'), 'utf8')).toContain('http://127.0.0.1:4567');
    const flag = captureIo(dir);
    expect(await runCli(['init', 'bad-kv', '--port', 'http'], flag)).toBe(2);
    expect(flag.err[0]).toBe('error: --port must be a port number (1-65535), not "http"');
    const variable = captureIo(dir);
    variable.env.PORT = '70000';
    expect(await runCli(['init', 'bad-kv'], variable)).toBe(2);
    expect(variable.err[0]).toBe('error: PORT must be a port number (1-65535), not "70000"');
    await expect(readdir(join(dir, 'bad-kv'))).rejects.toThrow(/ENOENT/);
  });

  it('runs the README provider, which passes the kit without a warning, halting a provision on delete', async () => {
    const project = await scaffold('readme-kv');
    const readme = await readFile(join(repoRoot, 'sdk/README.md'), 'utf8');
    const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block?.trim().split('\n').length).toBeLessThan(30);
    await writeFile(join(project, 'src/server.ts'), block ?? '');
    const brokerPort = await freePort();
    const url = await startProject(project, brokerPort, children);
    const { code, report, failures, warnings } = await kit(project, url, brokerPort);
    expect(failures).toEqual([]);
    expect(warnings).toEqual([]);
    expect(code).toBe(0);
    const halted = report.checks.find(
      (c: { name: string }) =>
        c.name === '[readme-kv-store/pro] delete during provisioning: the halted provision reports "failed"',
    );
    expect(halted?.status).toBe('pass');
    await rm(join(tmpdir(), `annex-kit-${brokerPort}.jwk.json`), { force: true });
  });
});

describe('annex-provider test', () => {
  it('passes a plain OSB broker with --basic and fails a broken one, printing why', async () => {
    const good = await startPlainBroker({ username: 'admin', password: 'pw' });
    const bad = await startPlainBroker({ username: 'admin', password: 'pw', broken: true });
    try {
      const io = captureIo(tmpdir());
      expect(await runCli(['test', good.url, '--basic', 'admin:pw'], io)).toBe(0);
      expect(io.out.join('\n')).toMatch(/^PASSED: \d+ passed, 0 failed/m);
      const failing = captureIo(tmpdir());
      expect(await runCli(['test', bad.url, '--basic', 'admin:pw'], failing)).toBe(1);
      const text = failing.out.join('\n');
      expect(text).toContain('FAIL auth: no credentials → 401 — expected 401, got 200');
      expect(text).toContain('FAIL [plain-kv/basic] sync: same id, other attributes → 409 — expected 409, got 201');
      expect(text).toMatch(/^FAILED: /m);
    } finally {
      await good.close();
      await bad.close();
    }
  });

  it('exits 3 when the provider does not answer, before running any check', async () => {
    const silent = `http://127.0.0.1:${await freePort()}`;
    const io = captureIo(tmpdir());
    expect(await runCli(['test', silent, '--audience', 'acme'], io)).toBe(3);
    expect(io.err).toEqual([`error: the provider does not answer: GET ${silent}/v2/catalog failed: ECONNREFUSED`]);
    expect(io.out).toEqual([]);
  });
});

describe('annex-provider errors and exit codes', () => {
  // The same codes as the annex CLI: 0 done, 1 refused, 2 bad usage, 3 unreachable or unauthenticated.
  const usage: [string[], string][] = [
    [['deploy'], 'error: unknown command "deploy"'],
    [['publish', '--catalgo', 'x'], "error: Unknown option '--catalgo'"],
    [['test', 'not a url'], 'error: "not a url" is not a URL (e.g. http://127.0.0.1:4100)'],
    [['test', 'http://127.0.0.1:1', '--basic', 'nocolon'], 'error: --basic must be user:password'],
    [
      ['test', 'http://127.0.0.1:1', '--broker-port', 'abc'],
      'error: --broker-port must be a port number (0-65535), not "abc"',
    ],
    [['test', 'http://127.0.0.1:1', '--timeout', 'soon'], 'error: --timeout must be a number of seconds, not "soon"'],
    [['test', '--audience', 'x'], 'error: cannot read the manifest'],
    [['init', 'a', 'b'], 'error: init takes one directory'],
    [['init', '!!!'], 'error: cannot derive a provider slug from "!!!"; pass --name <slug>'],
  ];
  it.each(usage)('%j is bad usage: exit 2, "error:" and what is wrong, then the usage', async (argv, message) => {
    const dir = await mkdtemp(join(tmpdir(), 'annex-usage-'));
    try {
      const io = captureIo(dir);
      expect(await runCli(argv, io)).toBe(2);
      expect(io.err[0]?.startsWith(message), io.err[0]).toBe(true);
      expect(io.err.join('\n')).toContain('annex-provider <command>');
      expect(await readdir(dir)).toEqual([]); // nothing written
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('prints the usage with exit 0 for help and exit 2 with no command', async () => {
    const help = captureIo(tmpdir());
    expect(await runCli(['help'], help)).toBe(0);
    expect(help.out.join('\n')).toContain('Exit codes (as for annex): 0 done, 1 refused');
    const none = captureIo(tmpdir());
    expect(await runCli([], none)).toBe(2);
    expect(none.err.join('\n')).toContain('annex-provider <command>');
  });
});
