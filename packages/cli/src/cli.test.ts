import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadLocalConfig, type Marketplace, startMarketplace } from '@annex/local';
import { createLogger } from '@annex/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { findCommand } from './commands/index.js';
import { parseCommandLine } from './parse.js';

describe('annex CLI against a running catalog', () => {
  const dir = mkdtempSync(join(tmpdir(), 'annex-cli-'));
  const env = {
    ANNEX_DATA_DIR: join(dir, 'data'),
    CATALOG_PORT: '0',
    CONSOLE_PORT: '0',
    BROKER_PORT: '0',
    LOG_LEVEL: 'silent',
  };
  let marketplace: Marketplace;
  let admin: string;
  let orgToken: string;

  beforeAll(async () => {
    marketplace = await startMarketplace(loadLocalConfig(env), env, createLogger('annex', 'silent'));
    admin = marketplace.credentials?.adminToken as string;
    orgToken = marketplace.credentials?.orgToken as string;
  });
  afterAll(async () => {
    await marketplace?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function annex(argv: string[], token?: string, stdin?: string) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(
      [...argv, '--catalog', `${marketplace.catalogUrl}/graphql`],
      { catalogUrl: undefined, token, configDir: join(dir, 'config') },
      { stdout: (t) => out.push(t), stderr: (t) => err.push(t) },
      async () => stdin ?? '',
    );
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  it('lists the marketplace, as a table and as JSON', async () => {
    const human = await annex(['marketplace']);
    expect(human.code).toBe(0);
    expect(human.out).toMatch(
      /postgres\s+Postgres\s+databases\s+annex-postgres\s+hobby \(free\), standard \(\$9\.00\/mo\)/,
    );
    const json = await annex(['marketplace', '--category', 'caches', '--json']);
    expect(JSON.parse(json.out).map((s: { slug: string }) => s.slug)).toEqual(['redis']);
  });

  it('lets an admin create an organization, a platform with OSB credentials, and tokens', async () => {
    const org = await annex(['admin', 'orgs:create', 'acme', '--name', 'Acme Inc'], admin);
    expect(org).toMatchObject({ code: 0, err: '' });
    expect(org.out).toContain('Created organization acme');

    const platform = await annex(['admin', 'platforms:create', 'acme-paas', '--org', 'acme', '--json'], admin);
    expect(platform.code).toBe(0);
    const created = JSON.parse(platform.out) as { osbUsername: string; osbPassword: string };
    const osb = await fetch(`${marketplace.brokerUrl}/v2/catalog`, {
      headers: {
        authorization: `Basic ${Buffer.from(`${created.osbUsername}:${created.osbPassword}`).toString('base64')}`,
        'x-broker-api-version': '2.17',
      },
    });
    expect(osb.status).toBe(200);

    const token = await annex(
      ['admin', 'tokens:create', '--kind', 'org', '--name', 'ci', '--org', 'acme', '--scope', 'config:read', '--json'],
      admin,
    );
    expect(token.code).toBe(0);
    const { id, token: secret } = JSON.parse(token.out) as { id: string; token: string };
    expect(secret).toMatch(/^annex_org_/);
    expect((await annex(['marketplace'], secret)).code).toBe(0);

    const revoked = await annex(['admin', 'tokens:revoke', id], admin);
    expect(revoked.code).toBe(0);
    const after = await annex(['marketplace'], secret);
    expect(after.code).toBe(3);
  });

  it('refuses a non-admin with exit code 1 and changes nothing', async () => {
    const refused = await annex(['admin', 'orgs:create', 'sneaky'], orgToken);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/^error: /);
    const again = await annex(['admin', 'orgs:create', 'sneaky'], admin);
    expect(again.code).toBe(0);
  });

  it('names what is wrong in bad usage, with exit code 2', async () => {
    const missing = await annex(['admin', 'tokens:create', '--kind', 'org'], admin);
    expect(missing).toMatchObject({ code: 2, err: 'error: --name is required' });
    const kind = await annex(['admin', 'tokens:create', '--kind', 'root', '--name', 'x'], admin);
    expect(kind.err).toContain('--kind must be admin, platform, provider or org (got "root")');
    expect((await annex(['frobnicate'])).err).toContain('unknown command "frobnicate"');
  });

  it('stores a checked login readable only by the user, and refuses a bad token', async () => {
    const bad = await annex(['login'], undefined, 'annex_admin_not-a-real-token-at-all-xxxxxxxx');
    expect(bad.code).toBe(3);
    const good = await annex(['login'], undefined, `${admin}\n`);
    expect(good.code).toBe(0);
    const file = join(dir, 'config', 'credentials.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // The stored token is used when none is given.
    expect((await annex(['admin', 'orgs:create', 'stored-login'])).code).toBe(0);
  });

  it('reports an unreachable catalog with exit code 3', async () => {
    const code = await runCli(
      ['marketplace', '--catalog', 'http://127.0.0.1:9/graphql'],
      { catalogUrl: undefined, token: undefined, configDir: join(dir, 'none') },
      { stdout: () => {}, stderr: () => {} },
    );
    expect(code).toBe(3);
  });
});

describe('argument parsing', () => {
  it('takes repeated options, --name=value and flags', () => {
    const command = findCommand('admin platforms:create');
    const parsed = parseCommandLine(command!, ['acme', '--org', 'x', '--org=y', '--json']);
    expect(parsed.args).toEqual({ SLUG: 'acme' });
    expect(parsed.flags).toMatchObject({ org: ['x', 'y'], json: true, name: undefined });
  });
});
