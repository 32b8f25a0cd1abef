import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliIo, runCli } from './cli.js';
import { CliError } from './client.js';
import { formatConfig, type PulledConfig, writeConfigFile } from './config-pull.js';
import { freePort, startTestMarketplace, type TestMarketplace } from './testing.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, read: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Runs one command line in process; `signals` stands for the process's signals. */
function start(
  argv: string[],
  options: {
    catalog?: string;
    api?: string;
    token?: string;
    signals?: EventEmitter;
    environment?: Record<string, string>;
    io?: Partial<CliIo>;
  } = {},
) {
  const out: string[] = [];
  const err: string[] = [];
  const done = runCli(
    // Global flags first: what follows `--` belongs to the command `annex run` starts.
    [...(options.catalog ? ['--catalog', options.catalog] : []), ...argv],
    {
      catalogUrl: undefined,
      token: options.token,
      apiUrl: options.api,
      ...(options.environment ? { environment: options.environment } : {}),
      configDir: join(tmpdir(), 'annex-cli-config-none'),
    },
    {
      stdout: (t) => out.push(t),
      stderr: (t) => err.push(t),
      ...(options.signals ? { signals: options.signals } : {}),
      ...options.io,
    },
    async () => '',
    20,
  );
  return { done, out, err };
}

async function run(argv: string[], options: Parameters<typeof start>[1] = {}) {
  const started = start(argv, options);
  const code = await started.done;
  return { code, out: started.out.join('\n'), err: started.err.join('\n') };
}

const config = (vars: Record<string, string>): PulledConfig => ({ app: 'web', release: 4, vars, etag: null });

describe('config files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'annex-cli-config-files-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes env that dotenv readers read back as the same values', () => {
    const vars = {
      PLAIN: 'postgres://u:p@db.example.com:5432/app',
      QUERY: 'https://example.com/?a=1&b=2',
      EMPTY: '',
      SPACES: '  two words # not a comment ',
      DOLLAR: '$HOME and $PATH-x',
      QUOTE: "it's",
      BOTH: `it's "quoted"`,
      NEWLINES: 'line one\nline two',
      ESCAPED: "a literal \\n and it's",
    };
    const env = formatConfig(config(vars), 'env');
    expect(env.split('\n')[0]).toBe(
      '# Config vars of app web, release 4, written by annex; changes here are overwritten',
    );
    expect(env).toContain('PLAIN=postgres://u:p@db.example.com:5432/app\n');
    // What a shell would read otherwise (`&`, `?`) is quoted, so the file may be sourced too.
    expect(env).toContain("QUERY='https://example.com/?a=1&b=2'\n");
    expect(parseEnv(env)).toEqual(vars);
    expect(() => formatConfig(config({ ALL: `' " \`` }), 'env')).toThrow(
      /ALL cannot be written as env: .*use --format json or yaml/,
    );
  });

  it('writes YAML of JSON strings and JSON with the mark in its annex key', () => {
    const vars = { B: 'two\nlines "q"', A: 'yes', NO: 'off' };
    const yaml = formatConfig(config(vars), 'yaml').trimEnd().split('\n');
    expect(yaml[0]).toMatch(/^# Config vars of app web, release 4, written by annex/);
    // Sorted; names and values quoted, so YAML 1.1 readers do not take `yes` or `NO` for booleans.
    expect(yaml.slice(1)).toEqual(['"A": "yes"', '"B": "two\\nlines \\"q\\""', '"NO": "off"']);
    const json = JSON.parse(formatConfig(config(vars), 'json'));
    expect(json).toEqual({ annex: { app: 'web', release: 4 }, vars: { A: 'yes', B: 'two\nlines "q"', NO: 'off' } });
  });

  it('writes files 0600 in one step and replaces only files it wrote, unless forced', () => {
    for (const format of ['env', 'yaml', 'json'] as const) {
      const path = join(dir, `config.${format}`);
      writeConfigFile(path, formatConfig(config({ A: '1' }), format));
      expect(statSync(path).mode & 0o777).toBe(0o600);
      // Its own file is replaced, whatever it held.
      writeConfigFile(path, formatConfig(config({ A: '2' }), format));
      expect(readFileSync(path, 'utf8')).toBe(formatConfig(config({ A: '2' }), format));
    }
    const foreign = join(dir, 'mine.env');
    writeFileSync(foreign, 'A=handwritten\n', { mode: 0o644 });
    let refused: unknown;
    try {
      writeConfigFile(foreign, formatConfig(config({ A: '1' }), 'env'));
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(CliError);
    expect((refused as CliError).exitCode).toBe(1);
    expect((refused as CliError).message).toBe(
      `${foreign} exists and was not written by annex; pass --force to replace it`,
    );
    expect(readFileSync(foreign, 'utf8')).toBe('A=handwritten\n');
    writeConfigFile(foreign, formatConfig(config({ A: '1' }), 'env'), { force: true });
    expect(parseEnv(readFileSync(foreign, 'utf8'))).toEqual({ A: '1' });
    expect(statSync(foreign).mode & 0o777).toBe(0o600);
    // No temporary file is left beside them.
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('refuses bad usage before asking the broker', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    expect(await run(['run', '--app', 'web'], { api: closed })).toMatchObject({
      code: 2,
      err: 'error: missing COMMAND; usage: annex run --app APP -- COMMAND...',
    });
    expect(await run(['config:pull', '--app', 'web', '--format', 'xml'], { api: closed })).toMatchObject({
      code: 2,
      err: 'error: --format must be one of env, json, yaml (got "xml")',
    });
    expect(
      await run(['config:watch', '--app', 'web', '--output', 'x', '--interval', '0'], { api: closed }),
    ).toMatchObject({ code: 2, err: 'error: --interval must be a number of seconds from 0.05 to 3600 (got "0")' });
    expect(await run(['config:watch', '--app', 'web'], { api: closed })).toMatchObject({
      code: 2,
      err: 'error: --output is required',
    });
    const unreachable = await run(['config:pull', '--app', 'web'], { api: closed });
    expect(unreachable.code).toBe(3);
    expect(unreachable.err).toBe(
      `error: cannot reach the broker's API at ${closed}: ECONNREFUSED (set it with --api or ANNEX_API_URL)`,
    );
  });
});

// The whole marketplace in process; the CLI pulls config vars from its broker as a runtime would.
describe('config for runtimes against the running marketplace', async () => {
  let running: TestMarketplace;
  let api: string;
  let demo: string;
  let admin: string;
  let catalog: string;
  let dir: string;

  beforeAll(async () => {
    running = await startTestMarketplace('config');
    ({ api, demo, admin, catalog, dir } = running);
    const created = await run(['apps:create', 'svc'], { catalog, token: demo });
    expect(created.code).toBe(0);
    const set = await run(['config:set', 'LOG_LEVEL=debug', 'GREETING=hello world', '--app', 'svc'], {
      catalog,
      token: demo,
    });
    expect(set.code).toBe(0);
  });
  afterAll(async () => {
    await running?.close();
  });

  const annex = (argv: string[], options: Parameters<typeof start>[1] = {}) =>
    run(argv, { catalog, api, token: demo, ...options });

  it('prints the vars as env, JSON or YAML, and writes a file', async () => {
    const printed = await annex(['config:pull', '--app', 'svc']);
    expect(printed.code).toBe(0);
    expect(parseEnv(printed.out)).toEqual({ LOG_LEVEL: 'debug', GREETING: 'hello world' });
    const json = await annex(['config:pull', '--app', 'svc', '--json']);
    expect(JSON.parse(json.out)).toEqual({
      annex: { app: 'svc', release: 1 },
      vars: { GREETING: 'hello world', LOG_LEVEL: 'debug' },
    });
    const yaml = await annex(['config:pull', '--app', 'svc', '--format', 'yaml']);
    expect(yaml.out.split('\n').slice(1)).toEqual(['"GREETING": "hello world"', '"LOG_LEVEL": "debug"']);

    const path = join(dir, '.env');
    expect(await annex(['config:pull', '--app', 'svc', '--output', path])).toMatchObject({
      code: 0,
      out: `Wrote 2 config vars of svc (v1) to ${path}`,
    });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(parseEnv(readFileSync(path, 'utf8'))).toEqual({ LOG_LEVEL: 'debug', GREETING: 'hello world' });
    const foreign = join(dir, 'handwritten.env');
    writeFileSync(foreign, 'KEEP=me\n');
    expect(await annex(['config:pull', '--app', 'svc', '--output', foreign])).toMatchObject({
      code: 1,
      err: `error: ${foreign} exists and was not written by annex; pass --force to replace it`,
    });
    expect(readFileSync(foreign, 'utf8')).toBe('KEEP=me\n');
    const forced = await annex(['config:pull', '--app', 'svc', '--output', foreign, '--force', '--json']);
    expect(JSON.parse(forced.out)).toEqual({ app: 'svc', release: 1, format: 'env', output: foreign, vars: 2 });
  });

  it('names what is wrong: an unknown app, a token without config:read, a refused token', async () => {
    expect(await annex(['config:pull', '--app', 'nope'])).toMatchObject({
      code: 1,
      err: 'error: app "nope" not found',
    });
    const created = await run(
      ['admin', 'tokens:create', '--kind', 'org', '--org', 'demo', '--name', 'ro', '--scope', 'apps:read', '--json'],
      { catalog, token: admin },
    );
    expect(created.code).toBe(0);
    const readOnly = (JSON.parse(created.out) as { token: string }).token;
    const refused = await annex(['config:pull', '--app', 'svc'], { token: readOnly });
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/config:read/);
    expect((await annex(['run', '--app', 'svc', '--', process.execPath, '-e', ''], { token: readOnly })).code).toBe(1);
    expect((await annex(['config:pull', '--app', 'svc'], { token: 'annex_org_wrong' })).code).toBe(3);
  });

  it('runs a command with the vars in its environment and exits with its code', async () => {
    const check = "process.exit(process.env.LOG_LEVEL === 'debug' && process.env.GREETING === 'hello world' ? 7 : 9)";
    expect((await annex(['run', '--app', 'svc', '--', process.execPath, '-e', check])).code).toBe(7);
    // The environment annex runs in is handed on; the vars win over it.
    const inherited = `process.exit(process.env.FROM_SHELL === 'yes' && process.env.LOG_LEVEL === 'debug' ? 8 : 9)`;
    const shell = { environment: { FROM_SHELL: 'yes', LOG_LEVEL: 'from-the-shell' } };
    expect((await annex(['run', '--app', 'svc', '--', process.execPath, '-e', inherited], shell)).code).toBe(8);
    expect((await annex(['run', '--app', 'svc', '--', process.execPath, '-e', 'process.exit(0)'])).code).toBe(0);
    expect(await annex(['run', '--app', 'svc', '--', 'annex-no-such-program-here'])).toMatchObject({
      code: 2,
      err: 'error: cannot run "annex-no-such-program-here": no such command',
    });
  });

  it('passes signals on to the command: its own exit code, or 128 + the signal', async () => {
    // The child says it is ready (its handler is in place) by connecting to this server.
    const ready: (() => void)[] = [];
    const server: Server = createNetServer((socket) => {
      socket.destroy();
      ready.shift()?.();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const child = (onTerm: string) =>
      `${onTerm}; setInterval(() => {}, 1000); require('net').connect(${port}, '127.0.0.1').on('error', () => {});`;
    try {
      for (const [script, signal, code] of [
        [child("process.on('SIGTERM', () => process.exit(42))"), 'SIGTERM', 42],
        [child("process.on('SIGHUP', () => process.exit(43))"), 'SIGHUP', 43],
        [child('void 0'), 'SIGTERM', 128 + 15],
      ] as const) {
        const signals = new EventEmitter();
        const isReady = new Promise<void>((resolve) => ready.push(resolve));
        const started = start(['run', '--app', 'svc', '--', process.execPath, '-e', script], {
          catalog,
          api,
          token: demo,
          signals,
        });
        await isReady;
        signals.emit(signal);
        expect(await started.done).toBe(code);
        // Once the command ended, annex no longer listens.
        expect(signals.listenerCount(signal)).toBe(0);
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('keeps a file current, rewriting it only for a new release, until stopped', async () => {
    const path = join(dir, 'watched.json');
    const signals = new EventEmitter();
    const watch = start(['config:watch', '--app', 'svc', '--output', path, '--format', 'json', '--interval', '0.05'], {
      catalog,
      api,
      token: demo,
      signals,
    });
    const read = () => (existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined);
    await until('the first write', () => (read()?.vars.LOG_LEVEL === 'debug' ? true : undefined));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const firstInode = statSync(path).ino;
    // Many polls later the unchanged app has not been written again (the broker answered 304).
    await sleep(600);
    expect(watch.out).toHaveLength(1);
    expect(statSync(path).ino).toBe(firstInode);

    expect((await annex(['config:set', 'LOG_LEVEL=info', '--app', 'svc'])).code).toBe(0);
    await until('the new release', () => (read()?.vars.LOG_LEVEL === 'info' ? true : undefined));
    expect(read()).toEqual({ annex: { app: 'svc', release: 2 }, vars: { GREETING: 'hello world', LOG_LEVEL: 'info' } });
    expect(watch.out).toEqual([
      `Wrote 2 config vars of svc (v1) to ${path}`,
      `Wrote 2 config vars of svc (v2) to ${path}`,
    ]);
    signals.emit('SIGTERM');
    expect(await watch.done).toBe(0);
    expect(signals.listenerCount('SIGTERM')).toBe(0);
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('backs off while the broker cannot be reached, and ends on a refusal', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const signals = new EventEmitter();
    const path = join(dir, 'never.env');
    const watch = start(['config:watch', '--app', 'svc', '--output', path, '--interval', '0.05'], {
      api: closed,
      token: demo,
      signals,
    });
    await until('three failed tries', () => (watch.err.length >= 3 ? true : undefined));
    signals.emit('SIGINT');
    expect(await watch.done).toBe(0);
    expect(watch.err.slice(0, 3).map((line) => line.replace(/^.*; /, ''))).toEqual([
      'trying again in 0.05 s',
      'trying again in 0.1 s',
      'trying again in 0.2 s',
    ]);
    expect(existsSync(path)).toBe(false);

    const foreign = join(dir, 'theirs.env');
    writeFileSync(foreign, 'THEIRS=1\n');
    const refused = await annex(['config:watch', '--app', 'svc', '--output', foreign, '--interval', '0.05']);
    expect(refused).toMatchObject({
      code: 1,
      err: `error: ${foreign} exists and was not written by annex; pass --force to replace it`,
    });
    expect(await annex(['config:watch', '--app', 'nope', '--output', path])).toMatchObject({
      code: 1,
      err: 'error: app "nope" not found',
    });
  });
});
