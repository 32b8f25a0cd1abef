import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  parseAssignments,
  parseAttachmentName,
  parseParams,
  parsePlanSlug,
  parseServicePlan,
  parseVarNames,
  parseVersion,
  parseWholeNumber,
} from './args.js';
import { type CliIo, runCli } from './cli.js';
import { CliError } from './client.js';
import { findCommand } from './commands/index.js';
import { parseCommandLine } from './parse.js';
import { startTestMarketplace, type TestMarketplace } from './testing.js';

const usageError = (fn: () => unknown, message: RegExp) => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(2);
    expect((error as CliError).message).toMatch(message);
    return;
  }
  throw new Error('expected a usage error');
};

async function run(
  argv: string[],
  options: { catalog: string; token?: string; io?: Partial<CliIo>; answer?: string; configDir?: string },
) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(
    [...argv, '--catalog', options.catalog],
    {
      catalogUrl: undefined,
      token: options.token,
      configDir: options.configDir ?? join(tmpdir(), 'annex-cli-apps-none'),
    },
    { stdout: (t) => out.push(t), stderr: (t) => err.push(t), ...options.io },
    async () => options.answer ?? '',
    20,
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('apps verbs: argument parsing', () => {
  it('reads --param values as JSON when they are, else as strings', () => {
    expect(parseParams(['size=10', 'ha=true', 'name=main', 'tags=["a","b"]', 'empty=', 'url=a=b', 'n=null'])).toEqual({
      size: 10,
      ha: true,
      name: 'main',
      tags: ['a', 'b'],
      empty: '',
      url: 'a=b',
      n: null,
    });
    usageError(() => parseParams(['size']), /--param expects KEY=VALUE \(got "size"\)/);
    usageError(() => parseParams(['=3']), /--param expects KEY=VALUE/);
    usageError(() => parseParams(['a=1', 'a=2']), /--param a is given twice/);
  });

  it('checks SERVICE:PLAN and plan slugs', () => {
    expect(parseServicePlan('ai-gateway:starter')).toBe('ai-gateway:starter');
    usageError(() => parseServicePlan('ai-gateway'), /expected SERVICE:PLAN .* \(got "ai-gateway"\)/);
    usageError(() => parseServicePlan('AI:x y'), /expected SERVICE:PLAN/);
    expect(parsePlanSlug('scale')).toEqual({ plan: 'scale' });
    expect(parsePlanSlug('ai-gateway:scale')).toEqual({ service: 'ai-gateway', plan: 'scale' });
    usageError(() => parsePlanSlug('a:b:c'), /expected PLAN or SERVICE:PLAN/);
  });

  it('reads config assignments and names', () => {
    expect(parseAssignments(['A=1', 'B_2=x=y', 'C='])).toEqual({ A: '1', B_2: 'x=y', C: '' });
    usageError(() => parseAssignments([]), /at least one KEY=VALUE/);
    usageError(() => parseAssignments(['A']), /expected KEY=VALUE \(got "A"\)/);
    usageError(() => parseAssignments(['1A=x']), /"1A" is not a config var name/);
    usageError(() => parseAssignments(['A=1', 'A=2']), /A is given twice/);
    expect(parseVarNames(['A', 'B', 'A'])).toEqual(['A', 'B']);
    usageError(() => parseVarNames(['A-B']), /"A-B" is not a config var name/);
    usageError(() => parseVarNames([]), /at least one config var name/);
  });

  it('reads release versions as v3 or 3, and bounded whole numbers', () => {
    expect(parseVersion('v3')).toBe(3);
    expect(parseVersion('3')).toBe(3);
    expect(parseVersion('V12')).toBe(12);
    usageError(() => parseVersion('v0'), /expected a release version such as v3 or 3 \(got "v0"\)/);
    usageError(() => parseVersion('three'), /got "three"/);
    expect(parseWholeNumber('timeout', '30', 1, 100, 'seconds')).toBe(30);
    usageError(() => parseWholeNumber('timeout', '0', 1, 100, 'seconds'), /--timeout expects whole seconds from 1/);
    usageError(() => parseWholeNumber('timeout', '1.5', 1, 100, 'seconds'), /got "1.5"/);
    expect(parseAttachmentName('reporting')).toBe('REPORTING');
    usageError(() => parseAttachmentName('9X'), /--as expects a name/);
  });

  it('keeps positionals after flags that take no value', () => {
    const parsed = parseCommandLine(findCommand('addons:create')!, [
      '--wait',
      'ai-gateway:starter',
      '--dry-run',
      '--param',
      'a=1',
      '--app',
      'web',
    ]);
    expect(parsed.args).toEqual({ 'SERVICE:PLAN': 'ai-gateway:starter' });
    expect(parsed.flags).toMatchObject({ wait: true, 'dry-run': true, param: ['a=1'] });
  });
});

describe('apps verbs refuse bad usage before calling the catalog', () => {
  // Nothing listens there: a command that sent anything would exit 3, not 2.
  const catalog = 'http://127.0.0.1:9/graphql';
  const cases: [string[], RegExp][] = [
    [['addons:create', 'ai-gateway:starter'], /--app is required/],
    [['addons:create', 'ai-gateway', '--app', 'a'], /expected SERVICE:PLAN/],
    [['addons:create', 'ai-gateway:starter', '--app', 'a', '--param', 'x'], /--param expects KEY=VALUE/],
    [['addons:create', 'ai-gateway:starter', '--app', 'a', '--dry-run', '--wait'], /nothing to --wait for/],
    [['addons:create', 'ai-gateway:starter', '--app', 'a', '--timeout', '5'], /--timeout is only used with --wait/],
    [
      ['addons:create', 'ai-gateway:starter', '--app', 'a', '--wait', '--timeout', 'soon'],
      /--timeout expects whole seconds/,
    ],
    [['addons:create', 'ai-gateway:starter', 'extra', '--app', 'a'], /unexpected argument "extra"/],
    [['addons:attach', '--app', 'a'], /missing ADDON/],
    [['addons:detach', 'AI'], /--app is required/],
    [['addons:destroy', 'ai-gateway-x-1'], /needs --confirm ai-gateway-x-1 when there is no terminal/],
    [['addons:destroy', 'ai-gateway-x-1', '--confirm', 'other'], /--confirm other does not match ai-gateway-x-1/],
    [['addons:upgrade', 'ai-gateway-x-1'], /missing PLAN/],
    [['addons:rotate', 'ai-gateway-x-1', '--grace', '-1'], /--grace expects whole seconds/],
    [['config'], /--app is required/],
    [['config', '--app', 'a', '--reveal=maybe'], /--reveal takes no value/],
    [['config:set', '--app', 'a'], /at least one KEY=VALUE/],
    [['config:set', 'lower-case=1', '--app', 'a'], /"lower-case" is not a config var name/],
    [['config:unset', '--app', 'a'], /at least one config var name/],
    [['releases:rollback', 'latest', '--app', 'a'], /expected a release version such as v3 or 3 \(got "latest"\)/],
    [['apps:create'], /missing NAME/],
    [['apps:info'], /missing --app APP/],
  ];
  it.each(cases)('%j', async (argv, message) => {
    const human = await run(argv, { catalog });
    expect(human.code).toBe(2);
    expect(human.err).toMatch(message);
    const json = await run([...argv, '--json'], { catalog });
    expect(json.code).toBe(2);
    expect(JSON.parse(json.out).error).toMatch(message);
  });

  it('asks for the add-on name on a terminal, and destroys nothing on a wrong answer', async () => {
    const refused = await run(['addons:destroy', 'ai-gateway-x-1'], {
      catalog,
      io: { interactive: true },
      answer: 'ai-gateway-x-2\n',
    });
    expect(refused).toMatchObject({ code: 2 });
    expect(refused.err).toContain('confirmation "ai-gateway-x-2" does not match ai-gateway-x-1; nothing was destroyed');
    // The right answer goes on to the catalog (unreachable here, hence 3).
    const confirmed = await run(['addons:destroy', 'ai-gateway-x-1'], {
      catalog,
      io: { interactive: true },
      answer: 'ai-gateway-x-1\n',
    });
    expect(confirmed.code).toBe(3);
  });
});

// A catalog that answers from a script: only how `--wait` reads add-on states is under test.
describe('--wait', () => {
  let server: Server;
  let catalog: string;
  let states: { state: string; lastError: string | null; attachment: string }[] = [];
  let polls = 0;
  const addon = (state: string, lastError: string | null, attachmentState: string) => ({
    id: 'ad1',
    name: 'ai-gateway-amber-1234',
    app: { name: 'web' },
    serviceSlug: 'ai-gateway',
    planSlug: 'starter',
    providerSlug: 'annex-ai',
    state,
    lastError,
    createdAt: '2026-11-27T00:00:00.000Z',
    attachments: [
      {
        id: 'at1',
        name: 'AI',
        app: { name: 'web' },
        addon: { name: 'ai-gateway-amber-1234', serviceSlug: 'ai-gateway', planSlug: 'starter' },
        state: attachmentState,
        configVarNames: attachmentState === 'ATTACHED' ? ['AI_API_KEY', 'AI_BASE_URL'] : [],
        lastError: null,
      },
    ],
  });

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        const { query } = JSON.parse(body) as { query: string };
        let data: unknown;
        polls += query.includes('addon(name') ? 1 : 0;
        if (query.includes('rotateAddonCredentials')) {
          data = {
            rotateAddonCredentials: {
              __typename: 'RotateAddonCredentialsSuccess',
              addon: addon('PROVISIONED', null, 'ROTATING'),
            },
          };
        } else if (query.includes('createAddon')) {
          const a = addon('PROVISIONING', null, 'ATTACHING');
          data = { createAddon: { __typename: 'CreateAddonSuccess', addon: a, attachment: a.attachments[0] } };
        } else {
          const next = states.length > 1 ? states.shift() : states[0];
          data = { addon: next ? addon(next.state, next.lastError, next.attachment) : null };
        }
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ data }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    catalog = `http://127.0.0.1:${(server.address() as { port: number }).port}/graphql`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const create = (extra: string[], io?: Partial<CliIo>) =>
    run(['addons:create', 'ai-gateway:starter', '--app', 'web', '--as', 'AI', '--wait', ...extra], { catalog, io });

  it('waits until the add-on is provisioned and attached, with a spinner on a terminal', async () => {
    states = [
      { state: 'PROVISIONING', lastError: null, attachment: 'ATTACHING' },
      { state: 'PROVISIONED', lastError: null, attachment: 'ATTACHING' },
      { state: 'PROVISIONED', lastError: null, attachment: 'ATTACHED' },
    ];
    const drawn: string[] = [];
    const result = await create([], { terminal: { write: (chunk: string) => drawn.push(chunk) } });
    expect(result).toMatchObject({ code: 0, err: '' });
    expect(result.out).toBe(
      'Created ai-gateway-amber-1234 (ai-gateway:starter) for web, attached as AI: AI_API_KEY, AI_BASE_URL',
    );
    expect(drawn.join('')).toContain('creating ai-gateway-amber-1234');
    // The spinner erases its line before the outcome is printed.
    expect(drawn.at(-1)).toMatch(/^\r +\r$/);
  });

  it('draws no spinner with --json, and prints the settled add-on', async () => {
    states = [{ state: 'PROVISIONED', lastError: null, attachment: 'ATTACHED' }];
    const drawn: string[] = [];
    const result = await create(['--json'], { terminal: { write: (chunk: string) => drawn.push(chunk) } });
    expect(result.code).toBe(0);
    expect(drawn).toEqual([]);
    const parsed = JSON.parse(result.out) as { addon: { state: string }; attachment: { state: string } };
    expect(parsed.addon.state).toBe('PROVISIONED');
    expect(parsed.attachment.state).toBe('ATTACHED');
  });

  it("fails with exit 1 and the add-on's last error when it ends FAILED", async () => {
    states = [
      { state: 'PROVISIONING', lastError: null, attachment: 'ATTACHING' },
      { state: 'FAILED', lastError: 'the provider answered 500: quota exhausted', attachment: 'ATTACHING' },
    ];
    const result = await create([]);
    expect(result.code).toBe(1);
    expect(result.err).toBe('error: add-on ai-gateway-amber-1234 failed: the provider answered 500: quota exhausted');
  });

  it('waits for a rotation until no attachment is rotating, and fails on a failed one', async () => {
    states = [
      { state: 'PROVISIONED', lastError: null, attachment: 'ROTATING' },
      { state: 'PROVISIONED', lastError: null, attachment: 'ROTATING' },
      { state: 'PROVISIONED', lastError: null, attachment: 'ATTACHED' },
    ];
    polls = 0;
    const rotated = await run(['addons:rotate', 'ai-gateway-amber-1234', '--wait'], { catalog });
    expect(rotated).toMatchObject({ code: 0, out: 'Rotated ai-gateway-amber-1234: new credentials in web (AI)' });
    expect(polls).toBe(3);

    states = [{ state: 'PROVISIONED', lastError: null, attachment: 'FAILED' }];
    const failed = await run(['addons:rotate', 'ai-gateway-amber-1234', '--wait'], { catalog });
    expect(failed.code).toBe(1);
    expect(failed.err).toBe('error: rotating ai-gateway-amber-1234 failed for web (AI): no error recorded');
  });

  it('gives up after --timeout with exit 1, naming the last state seen', async () => {
    states = [{ state: 'PROVISIONING', lastError: null, attachment: 'ATTACHING' }];
    const started = Date.now();
    const result = await create(['--timeout', '1']);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(
      /timed out after 1s waiting for creating ai-gateway-amber-1234 \(last seen: provisioning\)/,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

interface ConfigJson {
  release: number;
  vars: { name: string; value: string | null; owner: string }[];
}

// The whole marketplace in process (catalog, broker, the AI gateway example) on a fresh
// embedded database; the CLI talks to it as a developer would.
describe('apps verbs against the running marketplace', async () => {
  let running: TestMarketplace;
  let admin: string;
  let demo: string;
  let catalog: string;
  let dir: string;

  beforeAll(async () => {
    running = await startTestMarketplace('apps');
    ({ admin, demo, catalog, dir } = running);
  });
  afterAll(async () => {
    await running?.close();
  });

  const annex = (argv: string[], token = demo) => run(argv, { catalog, token, configDir: join(dir, 'config') });
  const json = async <T>(argv: string[], token = demo): Promise<T> => {
    const result = await annex([...argv, '--json'], token);
    if (result.code !== 0) throw new Error(`annex ${argv.join(' ')} exited ${result.code}: ${result.out}${result.err}`);
    return JSON.parse(result.out) as T;
  };
  const config = (app: string, token = demo) => json<ConfigJson>(['config', '--app', app], token);
  const varsOf = (c: ConfigJson) => Object.fromEntries(c.vars.map((v) => [v.name, v.value]));

  let addonName = '';
  /** A token of another organization, `rival`, made once the tests reach it. */
  let rival = '';

  it('creates two apps, and lists them', async () => {
    const created = await annex(['apps:create', 'web-a']);
    expect(created).toMatchObject({ code: 0, out: 'Created app web-a in demo' });
    const b = await json<{ name: string; organization: string; releaseVersion: number }>(['apps:create', 'web-b']);
    expect(b).toMatchObject({ name: 'web-b', organization: 'demo', releaseVersion: 0 });
    const taken = await annex(['apps:create', 'web-a']);
    expect(taken).toMatchObject({ code: 1, err: 'error: app name "web-a" is taken' });
    const apps = await json<{ name: string }[]>(['apps']);
    expect(apps.map((a) => a.name).sort()).toEqual(['web-a', 'web-b']);
    expect((await annex(['apps'])).out).toMatch(/web-a\s+demo\s+v0/);
  });

  it('creates an add-on with --as and --wait: the vars are in the app', async () => {
    const created = await json<{
      addon: { name: string; state: string; app: { name: string } };
      attachment: { name: string; state: string; configVarNames: string[] };
    }>(['addons:create', 'ai-gateway:starter', '--app', 'web-a', '--as', 'AI', '--wait']);
    addonName = created.addon.name;
    expect(addonName).toMatch(/^ai-gateway-[a-z]+-\d{4}$/);
    expect(created.addon).toMatchObject({ state: 'PROVISIONED', app: { name: 'web-a' } });
    expect(created.attachment).toMatchObject({ name: 'AI', state: 'ATTACHED' });
    expect([...created.attachment.configVarNames].sort()).toEqual(['AI_API_KEY', 'AI_BASE_URL']);

    const info = await annex(['addons:info', addonName]);
    expect(info.code).toBe(0);
    expect(info.out).toContain('plan:       ai-gateway:starter');
    expect(info.out).toMatch(/web-a as AI \(attached\): AI_(API_KEY|BASE_URL), AI_/);
  });

  it("opens the add-on's dashboard by single sign-on in a browser, or prints the URL where none opens", async () => {
    const opened: string[] = [];
    const browser = {
      openUrl: async (url: string) => {
        opened.push(url);
        return true;
      },
    };
    const open = (argv: string[], io: Partial<CliIo> = browser) =>
      run(['addons:open', addonName, ...argv], { catalog, token: demo, io });

    const result = await open(['--app', 'web-a']);
    expect(result).toMatchObject({ code: 0, out: `Opening the dashboard of ${addonName} in your browser.`, err: '' });
    expect(opened).toHaveLength(1);
    const url = new URL(opened[0] as string);
    expect(url.pathname).toBe('/sso');
    expect(url.searchParams.get('token')).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    // The provider takes the hand-off once: it signs the user in and sends them to the dashboard.
    const signedIn = await fetch(url, { redirect: 'manual' });
    expect(signedIn.status).toBe(302);
    expect(signedIn.headers.get('location')).toMatch(/^\/dashboard\//);
    expect((await fetch(url, { redirect: 'manual' })).status).toBe(401);

    // Asked not to, with --json, or where no browser can open: the URL is printed instead.
    const printed = await open(['--no-browser']);
    expect(printed.code).toBe(0);
    expect(printed.out).toMatch(
      /^Open the dashboard of .+ at this URL \(single use, until .+\):\nhttp:\/\/\S+\/sso\?token=\S+$/,
    );
    const json = JSON.parse((await open(['--json'])).out) as { url: string; expiresAt: string };
    expect(json.url).toMatch(/\/sso\?token=/);
    expect(Date.parse(json.expiresAt)).toBeGreaterThan(Date.now());
    const headless = await open([], {});
    expect(headless.out).toMatch(/\/sso\?token=/);
    expect(opened).toHaveLength(1);

    // An app the add-on is not attached to is refused.
    const notAttached = await open(['--app', 'web-b']);
    expect(notAttached).toMatchObject({
      code: 1,
      err: `error: app: add-on "${addonName}" is not attached to app "web-b"`,
    });
    expect(opened).toHaveLength(1);
  });

  it('previews an attach with --dry-run: the exact names, and a collision with its owner; creates nothing', async () => {
    expect((await annex(['config:set', 'AI_API_KEY=mine', '--app', 'web-b'])).code).toBe(0);
    const before = await config('web-b');

    const collision = await annex(['addons:attach', addonName, '--app', 'web-b', '--as', 'AI', '--dry-run']);
    expect(collision).toMatchObject({ code: 1, err: '' });
    expect(collision.out).toContain('config vars:  AI_API_KEY, AI_BASE_URL');
    expect(collision.out).toContain('collision:    AI_API_KEY is already set, owned by user');
    expect(collision.out).toContain('outcome:      would be refused (--replace takes over AI_API_KEY)');
    expect(collision.out).not.toContain('problem:');

    const clean = await json<{ ok: boolean; configVars: string[]; collisions: unknown[]; free: boolean }>([
      'addons:attach',
      addonName,
      '--app',
      'web-b',
      '--as',
      'REPORTING',
      '--dry-run',
    ]);
    expect(clean).toMatchObject({ ok: true, collisions: [], free: true });
    expect([...clean.configVars].sort()).toEqual(['REPORTING_API_KEY', 'REPORTING_BASE_URL']);

    const create = await annex(['addons:create', 'ai-gateway:scale', '--app', 'web-b', '--as', 'AI', '--dry-run']);
    expect(create.code).toBe(1);
    expect(create.out).toContain('$20.00/month');
    expect(create.out).toContain('collision:    AI_API_KEY is already set, owned by user');

    // Parameters are checked against the plan's schema (the Postgres plans take none).
    const params = await annex([
      'addons:create',
      'postgres:hobby',
      '--app',
      'web-b',
      '--param',
      'size=10',
      '--dry-run',
    ]);
    expect(params).toMatchObject({ code: 1, err: '' });
    expect(params.out).toContain('config vars:  DATABASE_URL');
    expect(params.out).toContain('parameter:    parameters.size: must NOT have additional properties');
    expect(params.out).not.toContain('problem:');
    const paramsJson = await annex([
      'addons:create',
      'postgres:hobby',
      '--app',
      'web-b',
      '--param',
      'size=10',
      '--dry-run',
      '--json',
    ]);
    expect(paramsJson.code).toBe(1);
    expect(JSON.parse(paramsJson.out)).toMatchObject({ ok: false, parameterErrors: [{ path: 'parameters.size' }] });

    // Nothing was created by the previews.
    expect(await config('web-b')).toEqual(before);
    const addons = await json<{ name: string }[]>(['addons']);
    expect(addons.map((a) => a.name)).toEqual([addonName]);
  });

  it('warns in the preview when the service is failing, and still says it would succeed', async () => {
    // Three failed provisions of the service in the last minutes, as the broker records them.
    const db = running.marketplace.database.db;
    const service = await db
      .selectFrom('services')
      .select(['id', 'provider_id'])
      .where('slug', '=', 'ai-gateway')
      .executeTakeFirstOrThrow();
    const failed = {
      provider_id: service.provider_id,
      service_id: service.id,
      operation: 'provision' as const,
      outcome: 'error' as const,
      status: 500,
      latency_ms: 20,
      description: 'internal error',
      at: new Date(),
    };
    await db.insertInto('provider_calls').values([failed, failed, failed]).execute();
    try {
      const preview = await annex([
        'addons:create',
        'ai-gateway:starter',
        '--app',
        'web-b',
        '--as',
        'OTHER',
        '--dry-run',
      ]);
      expect(preview.out).toContain(
        "warning:      the service ai-gateway is failing: most of its provider's recent calls failed",
      );
      expect(preview.out).toContain('outcome:      would succeed');
      expect(preview.code).toBe(0);
    } finally {
      await db.deleteFrom('provider_calls').where('service_id', '=', service.id).where('status', '=', 500).execute();
    }
  });

  it('refuses a real attach that would overwrite a var it does not own, naming it', async () => {
    const refused = await annex(['addons:attach', addonName, '--app', 'web-b', '--as', 'AI']);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/^error: config var AI_API_KEY of app web-b is already set \(owner: user\)/);
    expect(refused.err).toContain('pass --replace ("replace" in the API) to take it over');
    expect(varsOf(await config('web-b'))).toEqual({ AI_API_KEY: 'mine' });
  });

  it('attaches the add-on to the second app under another name: the vars are in both apps', async () => {
    const attached = await annex(['addons:attach', addonName, '--app', 'web-b', '--as', 'REPORTING', '--wait']);
    expect(attached.code).toBe(0);
    expect(attached.out).toMatch(new RegExp(`^Attached ${addonName} to web-b as REPORTING: REPORTING_`));

    const a = await config('web-a');
    const b = await config('web-b');
    expect(a.vars.map((v) => [v.name, v.owner]).sort()).toEqual([
      ['AI_API_KEY', 'attachment:AI'],
      ['AI_BASE_URL', 'attachment:AI'],
    ]);
    expect(b.vars.map((v) => [v.name, v.owner]).sort()).toEqual([
      ['AI_API_KEY', 'user'],
      ['REPORTING_API_KEY', 'attachment:REPORTING'],
      ['REPORTING_BASE_URL', 'attachment:REPORTING'],
    ]);
    // One add-on, one endpoint; a key per attachment.
    expect(varsOf(b).REPORTING_BASE_URL).toBe(varsOf(a).AI_BASE_URL);
    expect(varsOf(b).REPORTING_API_KEY).not.toBe(varsOf(a).AI_API_KEY);
    expect(varsOf(a).AI_API_KEY).toMatch(/\S{16,}/);

    // Names and owners by default; the values only with --reveal.
    const hidden = await annex(['config', '--app', 'web-a']);
    expect(hidden.out).toMatch(/AI_API_KEY\s+attachment:AI/);
    expect(hidden.out).not.toContain(varsOf(a).AI_API_KEY as string);
    const shown = await annex(['config', '--app', 'web-a', '--reveal']);
    expect(shown.out).toContain(varsOf(a).AI_API_KEY as string);

    const listed = await annex(['addons', '--app', 'web-b']);
    expect(listed.out).toMatch(new RegExp(`${addonName}\\s+ai-gateway:starter\\s+web-a\\s+provisioned\\s+REPORTING`));
  });

  it('refuses an attachment name the app already uses, naming the flag that picks another', async () => {
    const before = await config('web-a');
    const preview = await annex(['addons:attach', addonName, '--app', 'web-a', '--as', 'AI', '--dry-run']);
    expect(preview.code).toBe(1);
    expect(preview.out).toContain(
      'problem:      app web-a already has an attachment named AI; choose another with --as NAME',
    );
    // The vars are that attachment's: the name is the problem, which --replace does not solve.
    expect(preview.out).toMatch(/\n {2}outcome: +would be refused$/);
    expect(preview.out).not.toContain('--replace');
    const refused = await annex(['addons:attach', addonName, '--app', 'web-a', '--as', 'AI']);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('app web-a already has an attachment named AI; choose another with --as NAME');
    expect(await config('web-a')).toEqual(before);
  });

  it('hides values from a token without config:read, even with --reveal', async () => {
    const token = await json<{ token: string }>(
      ['admin', 'tokens:create', '--kind', 'org', '--org', 'demo', '--name', 'no-config-read'],
      admin,
    );
    const names = await config('web-a', token.token);
    expect(names.vars.map((v) => v.value)).toEqual([null, null]);
    const shown = await annex(['config', '--app', 'web-a', '--reveal'], token.token);
    expect(shown.out).toContain('(values are hidden: the token lacks the config:read scope)');
  });

  it('lists releases and rolls back to an earlier one', async () => {
    await annex(['config:set', 'MODE=one', '--app', 'web-b']);
    const set = await annex(['config:set', 'MODE=two', '--app', 'web-b', '--reason', 'try two']);
    expect(set.out).toMatch(/^web-b: set MODE \(v\d+\)$/);
    // The same values again: no release, and a plain answer rather than a crash.
    const same = await annex(['config:set', 'MODE=two', '--app', 'web-b']);
    expect(same).toMatchObject({ code: 0, out: 'web-b: no change (the vars already have these values)' });
    const releases = await json<{ version: number; reason: string; diff: { name: string; change: string }[] }[]>([
      'releases',
      '--app',
      'web-b',
    ]);
    const [latest, previous] = releases;
    expect(latest).toMatchObject({ reason: 'try two', diff: [{ name: 'MODE', change: 'changed' }] });
    expect(previous?.diff).toEqual([expect.objectContaining({ name: 'MODE', change: 'added' })]);
    expect(releases.map((r) => r.version)).toEqual([...releases.map((r) => r.version)].sort((x, y) => y - x));

    const human = await annex(['releases', '--app', 'web-b']);
    expect(human.out).toMatch(new RegExp(`v${latest?.version}\\s+~MODE`));

    const rolled = await annex(['releases:rollback', `v${previous?.version}`, '--app', 'web-b']);
    expect(rolled.code).toBe(0);
    expect(rolled.out).toBe(`Rolled back web-b to v${previous?.version}: now v${(latest?.version ?? 0) + 1}`);
    const after = varsOf(await config('web-b'));
    expect(after.MODE).toBe('one');
    expect(after.REPORTING_API_KEY).toMatch(/\S/);

    const unset = await annex(['config:unset', 'MODE', '--app', 'web-b']);
    expect(unset.code).toBe(0);
    expect(varsOf(await config('web-b')).MODE).toBeUndefined();
    const missing = await annex(['releases:rollback', '999', '--app', 'web-b']);
    expect(missing).toMatchObject({ code: 1, err: 'error: release v999 of web-b not found' });
  });

  it('rolls back what people set, and names each attachment var it left as it is', async () => {
    expect((await annex(['apps:create', 'web-c'])).code).toBe(0);
    expect((await annex(['config:set', 'MODE=one', '--app', 'web-c'])).out).toBe('web-c: set MODE (v1)');
    // An add-on attached after v1: a rollback to v1 keeps its vars.
    const created = await annex(['addons:create', 'ai-gateway:starter', '--app', 'web-c', '--as', 'AI', '--wait']);
    expect(created.code).toBe(0);
    expect((await annex(['config:set', 'MODE=two', '--app', 'web-c'])).out).toBe('web-c: set MODE (v3)');

    const rolled = await annex(['releases:rollback', 'v1', '--app', 'web-c']);
    expect(rolled).toMatchObject({ code: 0, err: '' });
    const [outcome, ...left] = rolled.out.split('\n');
    expect(outcome).toBe('Rolled back web-c to v1: now v4');
    expect(left.sort()).toEqual([
      'AI_API_KEY (attachment AI) left as it is',
      'AI_BASE_URL (attachment AI) left as it is',
    ]);
    const vars = varsOf(await config('web-c'));
    expect(vars.MODE).toBe('one');
    expect(vars.AI_API_KEY).toMatch(/\S{16,}/);

    // `releases` shows them on the rollback release only.
    const listed = await annex(['releases', '--app', 'web-c']);
    expect(listed.code).toBe(0);
    const [header, v4, v3] = listed.out.split('\n');
    expect(header).toMatch(/^VERSION\s+CHANGES\s+KEPT\s+ACTOR/);
    expect(v4).toMatch(
      /^v4\s+~MODE\s+AI_(API_KEY|BASE_URL) \(attachment AI\), AI_(API_KEY|BASE_URL) \(attachment AI\)\s+\S/,
    );
    expect(v3).not.toContain('attachment AI');
    const releases = await json<{ version: number; kept: { name: string; attachment: string }[] }[]>([
      'releases',
      '--app',
      'web-c',
    ]);
    expect(releases.map((r) => [r.version, r.kept.map((k) => `${k.name}:${k.attachment}`).sort()])).toEqual([
      [4, ['AI_API_KEY:AI', 'AI_BASE_URL:AI']],
      [3, []],
      [2, []],
      [1, []],
    ]);
  });

  it('refuses every change and every look from another organization, and changes nothing', async () => {
    expect((await annex(['admin', 'orgs:create', 'rival'], admin)).code).toBe(0);
    ({ token: rival } = await json<{ token: string }>(
      [
        ...['admin', 'tokens:create', '--kind', 'org', '--org', 'rival', '--name', 'rival'],
        ...['--scope', 'apps:write,config:read,config:write,billing:write', '--scope', 'sso'],
      ],
      admin,
    ));
    expect((await annex(['apps:create', 'rival-app'], rival)).code).toBe(0);
    const beforeA = await config('web-a');
    const beforeB = await config('web-b');

    const attempts: string[][] = [
      ['apps:info', '--app', 'web-a'],
      ['config', '--app', 'web-a'],
      ['addons:info', addonName],
      ['config:set', 'X=1', '--app', 'web-a'],
      ['addons:attach', addonName, '--app', 'rival-app', '--as', 'STOLEN'],
      ['addons:create', 'ai-gateway:starter', '--app', 'web-a'],
      ['addons:detach', 'AI', '--app', 'web-a'],
      ['addons:destroy', addonName, '--confirm', addonName],
      ['addons:rotate', addonName],
      ['addons:upgrade', addonName, 'scale'],
      ['addons:open', addonName, '--no-browser'],
      ['releases', '--app', 'web-b'],
      ['releases:rollback', 'v1', '--app', 'web-b'],
    ];
    for (const argv of attempts) {
      const result = await annex(argv, rival);
      // Another org's app or add-on looks exactly like a missing one.
      expect({ argv, code: result.code, err: result.err }).toEqual({
        argv,
        code: 1,
        err: expect.stringMatching(/^error: (app "web-[ab]"|add-on "ai-gateway-[a-z]+-\d{4}") not found$/),
      });
    }
    const visible = await json<{ name: string }[]>(['apps'], rival);
    expect(visible.map((a) => a.name)).toEqual(['rival-app']);
    expect(await json<unknown[]>(['addons'], rival)).toEqual([]);

    expect(await config('web-a')).toEqual(beforeA);
    expect(await config('web-b')).toEqual(beforeB);
    const addon = await json<{ state: string; attachments: unknown[] }>(['addons:info', addonName]);
    expect(addon.state).toBe('PROVISIONED');
    expect(addon.attachments).toHaveLength(2);
  });

  it('shares the add-on with another organization: each side sees its side, in text and in JSON', async () => {
    type Side = { app: { name: string } | null; appOrganization: string; name: string };
    type AddonJson = { name: string; organization: string; app: { name: string } | null; attachments: Side[] };
    const sides = (attachments: Side[]) =>
      attachments
        .map((a) => [a.app?.name ?? null, a.appOrganization, a.name])
        .sort((x, y) => String(x).localeCompare(String(y)));

    const shared = await annex(['addons:share', addonName, '--org', 'rival']);
    expect(shared).toMatchObject({ code: 0, out: `${addonName} is shared with rival` });
    const attached = await annex(
      ['addons:attach', addonName, '--app', 'rival-app', '--as', 'BORROWED', '--wait'],
      rival,
    );
    expect(attached).toMatchObject({ code: 0, err: '' });
    expect(attached.out).toMatch(new RegExp(`^Attached ${addonName} to rival-app as BORROWED: BORROWED_`));

    // The owner sees that an app of rival attaches it, never which one.
    const ownerInfo = await annex(['addons:info', addonName]);
    expect(ownerInfo).toMatchObject({ code: 0, err: '' });
    expect(ownerInfo.out).toContain('owner app:  web-a');
    expect(ownerInfo.out).toMatch(/^ {2}an app of rival as BORROWED \(attached\): BORROWED_\w+, BORROWED_\w+$/m);
    expect(ownerInfo.out).toMatch(/^ {2}web-a as AI \(attached\)/m);
    const ownerJson = await json<AddonJson>(['addons:info', addonName]);
    expect(ownerJson).toMatchObject({ name: addonName, organization: 'demo', app: { name: 'web-a' } });
    expect(sides(ownerJson.attachments)).toEqual([
      [null, 'rival', 'BORROWED'],
      ['web-a', 'demo', 'AI'],
      ['web-b', 'demo', 'REPORTING'],
    ]);
    const ownerList = await annex(['addons']);
    expect(ownerList.code).toBe(0);
    expect(ownerList.out).toMatch(
      new RegExp(`${addonName}\\s+ai-gateway:starter\\s+web-a\\s+provisioned\\s+.*an app of rival as BORROWED`),
    );
    const ownerApp = await annex(['apps:info', '--app', 'web-a']);
    expect(ownerApp).toMatchObject({ code: 0, err: '' });
    expect(ownerApp.out).toMatch(
      new RegExp(`${addonName}\\s+ai-gateway:starter\\s+provisioned\\s+.*an app of rival as BORROWED`),
    );
    const ownerAppJson = await json<{ addons: AddonJson[] }>(['apps:info', '--app', 'web-a']);
    expect(sides(ownerAppJson.addons[0]?.attachments ?? [])).toContainEqual([null, 'rival', 'BORROWED']);
    for (const output of [ownerInfo.out, ownerList.out, ownerApp.out, JSON.stringify([ownerJson, ownerAppJson])]) {
      expect(output).not.toContain('rival-app');
    }

    // The borrower sees the add-on shared by demo, and only its own app's attachment.
    const borrowerInfo = await annex(['addons:info', addonName], rival);
    expect(borrowerInfo).toMatchObject({ code: 0, err: '' });
    expect(borrowerInfo.out).toContain('shared by:  demo');
    expect(borrowerInfo.out).toMatch(/^ {2}rival-app as BORROWED \(attached\): BORROWED_\w+, BORROWED_\w+$/m);
    const borrowerJson = await json<AddonJson>(['addons:info', addonName], rival);
    expect(borrowerJson).toMatchObject({ name: addonName, organization: 'demo', app: null });
    expect(sides(borrowerJson.attachments)).toEqual([['rival-app', 'rival', 'BORROWED']]);
    const borrowerApp = await annex(['apps:info', 'rival-app'], rival);
    expect(borrowerApp).toMatchObject({ code: 0, err: '' });
    expect(borrowerApp.out).toMatch(
      new RegExp(`BORROWED\\s+${addonName} \\(shared by demo\\)\\s+attached\\s+BORROWED_`),
    );
    const borrowerAppJson = await json<{ attachments: (Side & { addon: AddonJson })[] }>(
      ['apps:info', 'rival-app'],
      rival,
    );
    expect(borrowerAppJson.attachments).toMatchObject([
      { app: { name: 'rival-app' }, appOrganization: 'rival', name: 'BORROWED', addon: { organization: 'demo' } },
    ]);
    const borrowerList = await annex(['addons', '--app', 'rival-app'], rival);
    expect(borrowerList.out).toMatch(
      new RegExp(`${addonName}\\s+ai-gateway:starter\\s+shared by demo\\s+provisioned\\s+BORROWED`),
    );
    const everyList = await annex(['addons'], rival);
    expect(everyList.out).toMatch(
      new RegExp(`${addonName}\\s+ai-gateway:starter\\s+shared by demo\\s+provisioned\\s+rival-app as BORROWED`),
    );
    const borrowed = [borrowerInfo.out, borrowerApp.out, borrowerList.out, everyList.out];
    for (const output of [...borrowed, JSON.stringify([borrowerJson, borrowerAppJson])]) {
      expect(output).not.toMatch(/web-[ab]|\bAI\b|REPORTING/);
    }
  });

  it('rotates the credentials of every attachment', async () => {
    const before = { a: varsOf(await config('web-a')), b: varsOf(await config('web-b')) };
    const rotated = await annex(['addons:rotate', addonName, '--grace', '0', '--wait']);
    expect(rotated.code).toBe(0);
    expect(rotated.out).toMatch(new RegExp(`^Rotated ${addonName}: new credentials in `));
    expect(rotated.out).toContain('an app of rival (BORROWED)');
    const after = { a: varsOf(await config('web-a')), b: varsOf(await config('web-b')) };
    expect(after.a.AI_API_KEY).toMatch(/\S{16,}/);
    expect(after.a.AI_API_KEY).not.toBe(before.a.AI_API_KEY);
    expect(after.b.REPORTING_API_KEY).not.toBe(before.b.REPORTING_API_KEY);
    expect(after.b.AI_API_KEY).toBe('mine');
  });

  it('moves the add-on to another plan, and detaches it from one app', async () => {
    const upgraded = await annex(['addons:upgrade', addonName, 'ai-gateway:scale', '--wait']);
    expect(upgraded).toMatchObject({ code: 0, out: `${addonName} is now on ai-gateway:scale` });
    const wrongService = await annex(['addons:upgrade', addonName, 'postgres:hobby']);
    expect(wrongService).toMatchObject({
      code: 1,
      err: 'error: plan: an add-on of "ai-gateway" can only change to a plan of "ai-gateway"',
    });
    expect((await json<{ planSlug: string }>(['addons:info', addonName])).planSlug).toBe('scale');

    const detached = await annex(['addons:detach', 'REPORTING', '--app', 'web-b', '--wait']);
    expect(detached).toMatchObject({ code: 0, out: `Detached REPORTING (${addonName}) from web-b` });
    expect((await config('web-b')).vars.map((v) => v.name)).toEqual(['AI_API_KEY']);
    expect(Object.keys(varsOf(await config('web-a'))).sort()).toEqual(['AI_API_KEY', 'AI_BASE_URL']);
  });

  it('destroys the add-on: confirmation required, then the vars are gone from both apps', async () => {
    const unconfirmed = await annex(['addons:destroy', addonName]);
    expect(unconfirmed.code).toBe(2);
    expect((await json<{ state: string }>(['addons:info', addonName])).state).toBe('PROVISIONED');

    const destroyed = await annex(['addons:destroy', addonName, '--confirm', addonName, '--wait']);
    expect(destroyed).toMatchObject({ code: 0, out: `Destroyed ${addonName}` });
    expect((await config('web-a')).vars).toEqual([]);
    expect((await config('web-b')).vars.map((v) => v.name)).toEqual(['AI_API_KEY']);
    const addons = await json<{ name: string; state: string }[]>(['addons']);
    expect(addons.filter((a) => a.name === addonName && a.state !== 'DESTROYED')).toEqual([]);
  });
});
