import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
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

  it('lists the marketplace with each listing stage, as a table and as JSON', async () => {
    const human = await annex(['marketplace']);
    expect(human.code).toBe(0);
    expect(human.out).toMatch(
      /postgres\s+Postgres\s+databases\s+annex-postgres\s+hobby \(free\), standard \(\$9\.00\/mo\).*\s+beta\n/,
    );
    const json = await annex(['marketplace', '--category', 'caches', '--json']);
    expect(JSON.parse(json.out).map((s: { slug: string; stage: string }) => [s.slug, s.stage])).toEqual([
      ['redis', 'BETA'],
    ]);
    // A deprecated service says so where it is listed (its provider's row moves, as a publish
    // moves it, so the catalog's answer cache sees a new catalog).
    const setStage = async (stage: 'beta' | 'deprecated') => {
      const db = marketplace.database.db;
      const service = await db
        .updateTable('services')
        .set({ stage })
        .where('slug', '=', 'redis')
        .returning('provider_id')
        .executeTakeFirstOrThrow();
      await db.updateTable('providers').set({ updated_at: new Date() }).where('id', '=', service.provider_id).execute();
    };
    await setStage('deprecated');
    try {
      // The catalog looks for a new version every 250 ms.
      let listed = '';
      for (let tries = 0; tries < 40 && !listed.includes('deprecated'); tries++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        listed = (await annex(['marketplace', '--category', 'caches'])).out;
      }
      expect(listed).toMatch(/redis\s.*deprecated \(no new add-ons\)/);
    } finally {
      await setStage('beta');
    }
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

  it('registers a plain OSB broker, printing the slugs its services became; a taken slug is refused as the catalog says', async () => {
    const postgres = (id: string, name: string) => ({
      id: `${id}-svc`,
      name,
      description: `${name} from a plain broker`,
      bindable: true,
      plans: [{ id: `${id}-plan`, name: 'small', description: 'Small', free: true }],
    });
    // `postgres` is the embedded marketplace's own: a service named so takes its provider's slug as a prefix.
    const first = await servePlainBroker([postgres('first-eu', 'EU Postgres'), postgres('first-pg', 'Postgres')]);
    const eu = await servePlainBroker([postgres('eu-pg', 'Postgres')]);
    try {
      const credentials = ['--username', 'osb', '--password', 'secret'];
      const registered = await annex(
        ['admin', 'brokers:register', first.url, '--provider', 'first', ...credentials],
        admin,
      );
      expect(registered).toMatchObject({ code: 0, err: '' });
      expect(registered.out).toBe(
        [
          `Registered ${first.url} as provider first (revision 1). Its services, by slug:`,
          '  eu-postgres (EU Postgres)',
          '  first-postgres (Postgres)',
        ].join('\n'),
      );
      const json = await annex(
        ['admin', 'brokers:register', first.url, '--provider', 'first', ...credentials, '--json'],
        admin,
      );
      expect(JSON.parse(json.out)).toMatchObject({
        unchanged: true,
        provider: { slug: 'first', services: [{ slug: 'eu-postgres' }, { slug: 'first-postgres' }] },
      });

      // `postgres` and `eu-postgres` are both taken: the catalog's refusal, word for word.
      const taken = await annex(['admin', 'brokers:register', eu.url, '--provider', 'eu', ...credentials], admin);
      expect(taken).toMatchObject({
        code: 1,
        out: '',
        err: 'error: service slug "eu-postgres" is used by another provider (a new service whose name another provider lists takes this provider\'s slug as a prefix, and that slug is taken too); register the broker under a different provider slug than "eu"',
      });
      // Nothing was stored: there is no provider eu to refresh.
      expect(await annex(['admin', 'brokers:refresh', 'eu'], admin)).toMatchObject({
        code: 1,
        err: 'error: no OSB-broker provider "eu"',
      });

      // A refresh names the services too, new ones included.
      first.services.push(postgres('first-kv', 'Key Value'));
      const refreshed = await annex(['admin', 'brokers:refresh', 'first'], admin);
      expect(refreshed).toMatchObject({ code: 0, err: '' });
      expect(refreshed.out).toBe(
        [
          'first: revision 2. Its services, by slug:',
          '  eu-postgres (EU Postgres)',
          '  first-postgres (Postgres)',
          '  key-value (Key Value)',
        ].join('\n'),
      );
    } finally {
      await Promise.all([first.close(), eu.close()]);
    }
  });

  it("lets an admin review providers' requests for GA: list, reject with a reason, approve", async () => {
    const gql = async (query: string, variables: Record<string, unknown>) =>
      (await (
        await fetch(`${marketplace.catalogUrl}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
          body: JSON.stringify({ query, variables }),
        })
      ).json()) as { data: any };
    const manifest = {
      slug: 'steady',
      name: 'Steady',
      listingState: 'ga',
      osb: { url: 'http://127.0.0.1:9' },
      services: [
        {
          id: 'steady-queue',
          slug: 'steady-queue',
          name: 'Steady Queue',
          description: 'A queue asking for GA',
          category: 'queues',
          bindable: true,
          plans: [{ id: 'steady-queue-free', slug: 'free', description: 'Free', free: true }],
        },
      ],
    };
    const published = await gql(
      'mutation($m: JSON!) { publishManifest(manifest: $m) { __typename ... on ManifestPublished { pendingReviews { serviceSlug } } } }',
      { m: manifest },
    );
    expect(published.data.publishManifest.pendingReviews).toEqual([{ serviceSlug: 'steady-queue' }]);

    const queue = await annex(['admin', 'listings', '--json'], admin);
    expect(queue.code).toBe(0);
    const [review] = JSON.parse(queue.out) as { id: string; serviceSlug: string; state: string }[];
    expect(review).toMatchObject({ serviceSlug: 'steady-queue', state: 'PENDING' });
    expect((await annex(['admin', 'listings'], admin)).out).toMatch(/steady-queue\s+steady\s+pending/);

    const noReason = await annex(['admin', 'listings:reject', review?.id as string], admin);
    expect(noReason.code).toBe(2);
    expect(noReason.err).toContain('admin listings:reject needs --reason TEXT');
    const denied = await annex(['admin', 'listings'], orgToken);
    expect(denied).toMatchObject({ code: 1, err: expect.stringContaining('needs an admin token') });

    const rejected = await annex(['admin', 'listings:reject', review?.id as string, '--reason', 'no SLA yet'], admin);
    expect(rejected).toMatchObject({ code: 0, out: 'Rejected the request for GA of steady-queue: no SLA yet' });
    const decided = await annex(['admin', 'listings', '--state', 'rejected', '--json'], admin);
    expect(JSON.parse(decided.out)).toEqual([
      expect.objectContaining({ serviceSlug: 'steady-queue', reason: 'no SLA yet' }),
    ]);
    const again = await annex(['admin', 'listings:approve', review?.id as string], admin);
    expect(again.code).toBe(1);
    expect(again.err).toContain('only a pending one can be decided');

    const asked = await gql(
      'mutation { requestGeneralAvailability(service: "steady-queue") { ... on ListingReview { id } } }',
      {},
    );
    const approved = await annex(['admin', 'listings:approve', asked.data.requestGeneralAvailability.id], admin);
    expect(approved).toMatchObject({ code: 0, out: 'Approved: steady-queue is GA' });
    expect((await gql('{ service(slug: "steady-queue") { stage } }', {})).data.service.stage).toBe('GA');
  });

  it('refuses a non-admin with exit code 1 and changes nothing', async () => {
    const refused = await annex(['admin', 'orgs:create', 'sneaky'], orgToken);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/^error: /);
    const again = await annex(['admin', 'orgs:create', 'sneaky'], admin);
    expect(again.code).toBe(0);
  });

  it("lets an admin add and remove a provider's members, who must have signed in once", async () => {
    await marketplace.database.db
      .insertInto('users')
      .values({ oidc_issuer: 'https://id.example', oidc_subject: 'ann', email: 'ann@acme.example', name: 'Ann' })
      .execute();
    const added = await annex(
      ['admin', 'providers:members:add', 'annex-postgres', 'ann@acme.example', '--role', 'admin'],
      admin,
    );
    expect(added).toMatchObject({ code: 0, out: 'ann@acme.example  admin' });
    const json = await annex(['admin', 'providers:members:add', 'annex-postgres', 'ann@acme.example', '--json'], admin);
    expect(JSON.parse(json.out)).toEqual([{ email: 'ann@acme.example', role: 'member', grantedBy: 'admin' }]);
    const stranger = await annex(['admin', 'providers:members:add', 'annex-postgres', 'nobody@acme.example'], admin);
    expect(stranger.code).toBe(1);
    expect(stranger.err).toContain('nobody has signed in to the console as nobody@acme.example yet');
    const role = await annex(
      ['admin', 'providers:members:add', 'annex-postgres', 'ann@acme.example', '--role', 'owner'],
      admin,
    );
    expect(role).toMatchObject({ code: 2, err: 'error: --role must be member or admin, not "owner"' });
    expect(
      (await annex(['admin', 'providers:members:remove', 'annex-postgres', 'ann@acme.example'], orgToken)).code,
    ).toBe(1);
    const removed = await annex(['admin', 'providers:members:remove', 'annex-postgres', 'ann@acme.example'], admin);
    expect(removed).toMatchObject({ code: 0, out: 'no members' });
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

/** An OSB broker that only answers its catalog (basic auth osb:secret): what registration reads. */
async function servePlainBroker(services: unknown[]) {
  const server: Server = createServer((req, res) => {
    const expected = `Basic ${Buffer.from('osb:secret').toString('base64')}`;
    res.setHeader('content-type', 'application/json');
    if (req.headers.authorization !== expected) {
      res.statusCode = 401;
      return void res.end(JSON.stringify({ description: 'unauthorized' }));
    }
    if (req.method !== 'GET' || req.url !== '/v2/catalog') {
      res.statusCode = 404;
      return void res.end(JSON.stringify({ description: 'not found' }));
    }
    res.end(JSON.stringify({ services }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    services,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('argument parsing', () => {
  it('takes repeated options, --name=value and flags', () => {
    const command = findCommand('admin platforms:create');
    const parsed = parseCommandLine(command!, ['acme', '--org', 'x', '--org=y', '--json']);
    expect(parsed.args).toEqual({ SLUG: 'acme' });
    expect(parsed.flags).toMatchObject({ org: ['x', 'y'], json: true, name: undefined });
  });
});
