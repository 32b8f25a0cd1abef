import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildToolsIn, type Listed, processTree } from '../process-tree.js';

// Production runs the JavaScript `npm run build` writes to each workspace's dist/, in plain
// Node: no tsx, no esbuild service, no loader flags. Each process is inspected on the process
// list while it runs, so a start script or a bin that goes back to running TypeScript fails here.
// (`npm test` builds the workspaces this package depends on before running it.)

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** The workspaces that ship, with the file their `start` script runs. */
const STARTS: Record<string, string> = {
  'services/broker': 'dist/main.js',
  'services/catalog': 'dist/main.js',
  'packages/console': 'dist/main.js',
  'packages/local': 'dist/start.js',
  'examples/ai-gateway': 'dist/main.js',
  'examples/postgres': 'dist/main.js',
  'examples/redis': 'dist/main.js',
};

/** The environment of a shell: none of the npm variables or Node options of the run around this file. */
function shellEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !/^npm_/i.test(name) && !['INIT_CWD', 'NODE_OPTIONS', 'VITEST', 'NODE_ENV'].includes(name),
    ),
  );
  return { ...env, ...extra };
}

/** Spawns `command` in its own process group; resolves with it once its output matches `ready`. */
function startUntil(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  ready: RegExp,
  started: ChildProcess[],
): Promise<{ child: ChildProcess; out: string }> {
  const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  started.push(child);
  let out = '';
  return new Promise((done, fail) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (ready.test(out)) done({ child, out });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => fail(new Error(`\`${command} ${args.join(' ')}\` exited with ${code}:\n${out}`)));
  });
}

/** Ends a process group started by `startUntil` and waits for its leader to exit. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  const exited = new Promise((done) => child.once('exit', done));
  process.kill(-child.pid, 'SIGTERM');
  await exited;
}

describe('production runs the build in plain Node', () => {
  let dir: string;
  const started: ChildProcess[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'annex-built-'));
    const missing = [
      ...Object.entries(STARTS).map(([workspace, file]) => join(workspace, file)),
      'packages/cli/dist/main.js',
    ].filter((file) => !existsSync(join(root, file)));
    if (missing.length > 0) {
      throw new Error(`not built: ${missing.join(', ')}; run \`npm run build\` at the root first (npm test does)`);
    }
  });
  afterEach(async () => {
    for (const child of started.splice(0)) await stop(child);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('every start script and bin runs dist/ with node, and npm start builds before it starts', () => {
    const rootScripts = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts as Record<string, string>;
    expect(rootScripts.start).toBe('node packages/local/dist/start.js');
    expect(rootScripts.prestart).toMatch(/^turbo run build\b/);
    for (const [workspace, file] of Object.entries(STARTS)) {
      const scripts = JSON.parse(readFileSync(join(root, workspace, 'package.json'), 'utf8')).scripts;
      expect(scripts.start, workspace).toBe(`node ${file}`);
    }
    for (const bin of ['packages/cli/bin/annex.js', 'sdk/bin/annex-provider.js']) {
      const source = readFileSync(join(root, bin), 'utf8');
      expect(source, bin).not.toMatch(/tsx|\.ts['"]/);
      expect(source, bin).toMatch(/\.\.\/dist\//);
    }
  });

  it('the annex bin runs the built CLI with no build tool under it', async () => {
    let seen: Listed[] = [];
    let cliPid = 0;
    // A catalog that looks at the CLI's process tree while the CLI waits for its answer.
    const catalog: Server = createServer((_request, response) => {
      seen = processTree(cliPid);
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ errors: [{ message: 'the catalog under test answers no query' }] }));
    });
    await new Promise<void>((done) => catalog.listen(0, '127.0.0.1', done));
    try {
      const { port } = catalog.address() as { port: number };
      const cli = spawn(join(root, 'node_modules/.bin/annex'), ['marketplace'], {
        cwd: dir,
        env: shellEnv({ ANNEX_CATALOG_URL: `http://127.0.0.1:${port}/graphql`, ANNEX_CONFIG_DIR: join(dir, 'cli') }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      cliPid = cli.pid as number;
      let out = '';
      cli.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      cli.stderr.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      await new Promise((done) => cli.once('close', done));
      expect(out).toContain('the catalog under test answers no query');
      expect(seen.map((p) => p.args)).toEqual([
        expect.stringMatching(/^\S*node \S*node_modules\/\.bin\/annex marketplace$/),
      ]);
      expect(buildToolsIn(seen)).toEqual([]);
    } finally {
      await new Promise((done) => catalog.close(done));
    }
  });

  it("a service's npm start runs its build in plain Node", async () => {
    const { child: broker } = await startUntil(
      'npm',
      ['start'],
      join(root, 'services/broker'),
      shellEnv({ ANNEX_DATA_DIR: join(dir, 'broker'), BROKER_PORT: '0', BROKER_WORKERS: 'false', LOG_LEVEL: 'info' }),
      /broker listening/,
      started,
    );
    const tree = processTree(broker.pid as number);
    expect(
      tree.some((p) => /^\S*node dist\/main\.js$/.test(p.args)),
      JSON.stringify(tree),
    ).toBe(true);
    expect(buildToolsIn(tree)).toEqual([]);
  });

  it("the root's npm start runs the embedded installation from its build in plain Node", async () => {
    // Its prestart (the build) ran before this package's tests; this runs the start script itself.
    const { child: local, out } = await startUntil(
      'npm',
      ['start', '--ignore-scripts'],
      root,
      shellEnv({
        ANNEX_DATA_DIR: join(dir, 'local'),
        ANNEX_SEED_DEMO: 'false',
        EXAMPLE_AI_ENABLED: 'false',
        CATALOG_PORT: '0',
        BROKER_PORT: '0',
        CONSOLE_PORT: '0',
        LOG_LEVEL: 'silent',
      }),
      /Stop with Ctrl-C/,
      started,
    );
    const tree = processTree(local.pid as number);
    expect(
      tree.some((p) => /^\S*node packages\/local\/dist\/start\.js$/.test(p.args)),
      JSON.stringify(tree),
    ).toBe(true);
    expect(buildToolsIn(tree)).toEqual([]);

    // The files the build serves that are not TypeScript: the console's static files (copied into
    // dist/) and GraphiQL's (from its package).
    const consoleUrl = /Web console\s+(http:\/\/\S+)/.exec(out)?.[1];
    const catalogUrl = /Catalog GraphQL\s+(http:\/\/\S+)\/graphql/.exec(out)?.[1];
    expect([consoleUrl, catalogUrl], out).toEqual([expect.any(String), expect.any(String)]);
    const css = await fetch(`${consoleUrl}/static/console.css`);
    expect([css.status, css.headers.get('content-type')]).toEqual([200, expect.stringMatching(/^text\/css/)]);
    expect(await css.text()).toBe(readFileSync(join(root, 'packages/console/src/public/console.css'), 'utf8'));
    const graphiql = await fetch(`${catalogUrl}/graphiql/graphiql.css`);
    expect([graphiql.status, graphiql.headers.get('content-type')]).toEqual([200, 'text/css; charset=utf-8']);
    expect((await graphiql.text()).length).toBeGreaterThan(1000);
  });
});
