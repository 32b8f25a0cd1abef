import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { closest } from './parse.js';

// A catalog that counts what reaches it and answers every query with a preflight that
// would succeed: a command line refused for its usage must leave the count at zero.
describe('flags are declared: a bad command line is refused before anything is sent', () => {
  let server: Server;
  let catalog: string;
  let requests: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        requests.push((JSON.parse(body) as { query: string }).query);
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            data: {
              attachPreflight: {
                __typename: 'Preflight',
                ok: true,
                serviceSlug: 'postgres',
                planSlug: 'hobby',
                priceCents: 0,
                currency: 'usd',
                free: true,
                configVars: ['DATABASE_URL'],
                collisions: [],
                parameterErrors: [],
                problems: [],
                prorationCents: null,
                prorationUntil: null,
                billingMode: 'ledger-only',
                paymentRequired: false,
                billingNotice: null,
                serviceHealth: 'OK',
                warnings: [],
              },
            },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    catalog = `http://127.0.0.1:${(server.address() as { port: number }).port}/graphql`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    requests = [];
  });

  async function annex(argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(
      [...argv, '--catalog', catalog],
      { catalogUrl: undefined, token: 'annex_org_test', configDir: join(tmpdir(), 'annex-cli-parse-none') },
      { stdout: (t) => out.push(t), stderr: (t) => err.push(t) },
    );
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  it('refuses a misspelled flag with exit 2 and the nearest valid one, and creates nothing', async () => {
    const typo = await annex(['addons:create', 'postgres:hobby', '--dryrun', '--app', 'web']);
    expect(typo).toMatchObject({ code: 2, out: '', err: 'error: unknown flag --dryrun; did you mean --dry-run?' });
    expect(requests).toEqual([]);

    // Spelled right, the same line is a dry run that reaches the catalog.
    const dryRun = await annex(['addons:create', 'postgres:hobby', '--dry-run', '--app', 'web']);
    expect(dryRun.code).toBe(0);
    expect(dryRun.out).toContain('Dry run: create postgres:hobby for web (nothing was created)');
    expect(requests).toHaveLength(1);
    expect(requests[0]).toContain('attachPreflight');
  });

  const refused: [string[], string][] = [
    [['addons:create', 'postgres:hobby', '--app', 'web', '--wiat'], 'error: unknown flag --wiat; did you mean --wait?'],
    [['addons:attach', 'pg-1', '--ap', 'web'], 'error: unknown flag --ap; did you mean --app?'],
    [['config:set', 'A=1', '--app', 'web', '--reasons', 'x'], 'error: unknown flag --reasons; did you mean --reason?'],
    [['marketplace', '--jsno'], 'error: unknown flag --jsno; did you mean --json?'],
    [
      ['addons:destroy', 'pg-1', '--force'],
      'error: unknown flag --force; see `annex addons:destroy --help` for the flags it takes',
    ],
    // A flag of another command is unknown to this one.
    [['apps', '--reveal'], 'error: unknown flag --reveal; see `annex apps --help` for the flags it takes'],
    [['addons:info', 'pg-1', '-x'], 'error: unknown flag -x; see `annex addons:info --help` for the flags it takes'],
    [['admin', 'tokens:create', '--kind', 'org'], 'error: --name is required'],
    [['releases', '--app'], 'error: --app needs a value: --app APP'],
    [['addons:create', 'postgres:hobby', '--app', 'web', '--wait=yes'], 'error: --wait takes no value (got "yes")'],
    [['addons:info'], 'error: missing ADDON; usage: annex addons:info ADDON'],
    [['apps', 'web'], 'error: unexpected argument "web"; usage: annex apps'],
    [
      ['addons:upgrade', 'pg-1', 'standard', 'now'],
      'error: unexpected argument "now"; usage: annex addons:upgrade ADDON PLAN [--wait] [--timeout SECONDS]',
    ],
    [
      ['addons:craete', 'postgres:hobby'],
      'error: unknown command "addons:craete"; did you mean `annex addons:create`? see `annex help`',
    ],
    [
      ['admin', 'org:create', 'acme'],
      'error: unknown command "admin org:create"; did you mean `annex admin orgs:create`? see `annex help`',
    ],
  ];
  it.each(refused)('%j', async (argv, message) => {
    const result = await annex(argv);
    expect(result.code).toBe(2);
    expect(result.err).toBe(message);
    expect(requests).toEqual([]);
  });

  it('reports a usage error as JSON with --json', async () => {
    const result = await annex(['addons:create', 'postgres:hobby', '--app', 'web', '--dryrun', '--json']);
    expect(result.code).toBe(2);
    expect(JSON.parse(result.out)).toEqual({ error: 'unknown flag --dryrun; did you mean --dry-run?', details: [] });
    // A flag that takes a value is not given the next flag as its value.
    const missing = await annex(['releases', '--app', '--json']);
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.out).error).toBe('--app needs a value: --app APP');
    expect(requests).toEqual([]);
  });

  it('takes -a for --app, and global flags before the command', async () => {
    const result = await annex(['--json', 'addons:create', 'postgres:hobby', '-a', 'web', '--dry-run']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.out)).toMatchObject({ ok: true, configVars: ['DATABASE_URL'] });
    expect(requests).toHaveLength(1);
  });
});

describe('the nearest flag to a typo', () => {
  it('is within one edit for short words and two for longer ones, swaps counting as one', () => {
    const flags = ['app', 'as', 'dry-run', 'wait', 'timeout', 'json', 'replace'];
    expect(closest('dryrun', flags)).toBe('dry-run');
    expect(closest('tiemout', flags)).toBe('timeout');
    expect(closest('aap', flags)).toBe('app');
    expect(closest('replcae', flags)).toBe('replace');
    expect(closest('force', flags)).toBeUndefined();
    expect(closest('x', flags)).toBeUndefined();
  });
});
