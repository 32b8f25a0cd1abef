import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
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
  'mutation Publish($manifest: JSON!) { publishManifest(manifest: $manifest) { __typename ... on ManifestPublished { revision unchanged provider { slug } } ... on ManifestInvalid { message problems { path message } } ... on Error { message } } }';

describe('annex-provider publish', () => {
  let dir: string;
  let catalogUrl: string;
  let close: () => Promise<void>;
  const received: { query: string; variables: { manifest: { slug: string } }; authorization?: string }[] = [];
  let answer: unknown;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'annex-publish-'));
    const app = express();
    app.use(express.json({ limit: '5mb' }));
    app.post('/graphql', (req, res) => {
      received.push({ ...req.body, authorization: req.headers.authorization });
      res.json(answer);
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((r) => server.once('listening', () => r()));
    catalogUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
    close = () => new Promise<void>((r) => server.close(() => r()));
  });
  afterAll(async () => {
    await close();
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
    expect(text).toContain('slug: must be lowercase letters');
    expect(text).toContain('services.0.plans.1.id: duplicate plan id');
    expect(text).toMatch(/services\.0\.category: /);
    expect(received.length).toBe(before);
  });

  it('sends the exact mutation with the token and prints the published revision', async () => {
    await writeFile(join(dir, 'annex.json'), JSON.stringify(widgetsManifest()));
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
    expect(code).toBe(0);
    expect(io.out.join('\n')).toContain('published widgets-inc: revision 3');
    const last = received.at(-1);
    expect(last?.query).toBe(EXPECTED_MUTATION);
    expect(last?.variables.manifest.slug).toBe('widgets-inc');
    expect(last?.authorization).toBe('Bearer annex_org_secret');
  });

  it('prints the catalog’s refusal and exits 1', async () => {
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
    expect(io.err.join('\n')).toContain('services.0.id: belongs to another provider');
    answer = { data: { publishManifest: { __typename: 'NotAuthorized', message: 'token may not publish' } } };
    const denied = captureIo(dir);
    expect(await runCli(['publish', 'annex.json', '--catalog', catalogUrl, '--token', 't'], denied)).toBe(1);
    expect(denied.err.join('\n')).toContain('token may not publish');
  });

  it('refuses to publish without a token', async () => {
    const io = captureIo(dir);
    expect(await runCli(['publish', 'annex.json', '--catalog', catalogUrl], io)).toBe(1);
    expect(io.err.join('\n')).toContain('ANNEX_TOKEN');
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** Spawns a project's `src/server.ts` with tsx and resolves its URL once it listens. */
async function startProject(project: string, brokerPort: number, children: ChildProcess[]): Promise<string> {
  const child = spawn(join(repoRoot, 'node_modules/.bin/tsx'), ['--conditions=annex-source', 'src/server.ts'], {
    cwd: project,
    env: { ...process.env, PORT: '0', ANNEX_BROKER_URL: `http://127.0.0.1:${brokerPort}` },
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

/** Runs `annex-provider test` against a project's running provider; returns the parsed report. */
async function kit(project: string, url: string, brokerPort: number) {
  const io = captureIo(project);
  const code = await runCli(['test', url, '--broker-port', String(brokerPort), '--json'], io);
  const report = JSON.parse(io.out.join('\n'));
  return { code, report, failures: report.checks.filter((c: { status: string }) => c.status === 'fail') };
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

  async function scaffold(name: string): Promise<string> {
    const project = join(dir, name);
    expect(await runCli(['init', name], captureIo(dir))).toBe(0);
    await symlink(join(repoRoot, 'node_modules'), join(project, 'node_modules'), 'dir');
    return project;
  }

  it('scaffolds a provider that runs and passes the kit', async () => {
    const project = await scaffold('acme-kv');
    const manifest = JSON.parse(await readFile(join(project, 'annex.json'), 'utf8'));
    expect(manifest.slug).toBe('acme-kv');
    expect(await runCli(['init', 'acme-kv'], captureIo(dir))).toBe(2); // not over an existing project
    const brokerPort = await freePort();
    const url = await startProject(project, brokerPort, children);
    const { code, report, failures } = await kit(project, url, brokerPort);
    expect(failures).toEqual([]);
    expect(code).toBe(0);
    expect(report.mode).toBe('jwt');
    expect(
      report.checks.some((c: { name: string }) => c.name === '[acme-kv-store/pro] async: provision completes'),
    ).toBe(true);
    // A re-run at once reuses the kit's key (kept per port), so the provider's cached JWKS still works.
    const again = await kit(project, url, brokerPort);
    expect(again.failures).toEqual([]);
    await rm(join(tmpdir(), `annex-kit-${brokerPort}.jwk.json`), { force: true });
  });

  it('runs the README provider, which passes the kit', async () => {
    const project = await scaffold('readme-kv');
    const readme = await readFile(join(repoRoot, 'sdk/README.md'), 'utf8');
    const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block?.trim().split('\n').length).toBeLessThan(30);
    await writeFile(join(project, 'src/server.ts'), block ?? '');
    const brokerPort = await freePort();
    const url = await startProject(project, brokerPort, children);
    const { code, failures } = await kit(project, url, brokerPort);
    expect(failures).toEqual([]);
    expect(code).toBe(0);
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
      const usage = captureIo(tmpdir());
      expect(await runCli(['test', 'not a url'], usage)).toBe(2);
      expect(await runCli(['test', good.url, '--basic', 'nocolon'], usage)).toBe(2);
      expect(await runCli(['test', good.url, '--audience', 'x', '--broker-port', 'abc'], usage)).toBe(2);
      expect(usage.err.join('\n')).toContain('--basic must be user:password');
    } finally {
      await good.close();
      await bad.close();
    }
  });
});
