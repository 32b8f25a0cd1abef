import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadLocalConfig, type Marketplace, startMarketplace } from '@annex/local';
import { createApiToken, createLogger } from '@annex/platform';
import { runCli } from '@annex/sdk/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// `annex-provider invite`, `invitations` and `uninvite` against the running marketplace
// (catalog and broker in one process): a provider invites an organization to its ALPHA
// service, which that organization then sees; every refusal exits 1 naming what is wrong.

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function captureIo(env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, cwd: tmpdir(), env, stdout: (l: string) => out.push(l), stderr: (l: string) => err.push(l) };
}

const manifest = (osbUrl: string) => ({
  slug: 'vectorly',
  name: 'Vectorly',
  osb: { url: osbUrl },
  services: [
    {
      id: 'vectorly-db',
      slug: 'vectorly-db',
      name: 'Vectorly DB',
      description: 'A vector database, in alpha',
      category: 'databases',
      bindable: true,
      listingState: 'alpha',
      plans: [{ id: 'vectorly-db-free', slug: 'free', description: 'Free', free: true }],
    },
  ],
});

describe('annex-provider invitations against the running marketplace', () => {
  const dir = mkdtempSync(join(tmpdir(), 'annex-listing-cli-'));
  let marketplace: Marketplace;
  let catalog: string;
  let providerToken: string;
  let otherToken: string;
  let adminToken: string;
  const org = 'early-birds';
  let orgToken: string;

  const gql = async (query: string, variables: Record<string, unknown>, token: string) => {
    const response = await fetch(catalog, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as { data: any };
  };
  const sees = async (token: string) =>
    (await gql('query { service(slug: "vectorly-db") { slug stage } }', {}, token)).data.service;

  beforeAll(async () => {
    const brokerPort = await freePort();
    const env: Record<string, string> = {
      ANNEX_DATA_DIR: join(dir, 'data'),
      CATALOG_PORT: '0',
      CONSOLE_PORT: '0',
      BROKER_PORT: String(brokerPort),
      CATALOG_BROKER_URL: `http://127.0.0.1:${brokerPort}`,
      EXAMPLE_AI_PORT: String(await freePort()),
      EXAMPLE_POSTGRES_PORT: String(await freePort()),
      EXAMPLE_REDIS_PORT: String(await freePort()),
      LOG_LEVEL: 'silent',
    };
    marketplace = await startMarketplace(loadLocalConfig(env), env, createLogger('annex', 'silent'));
    catalog = `${marketplace.catalogUrl}/graphql`;
    const db = marketplace.database.db;
    adminToken = (await createApiToken(db, { kind: 'admin', name: 'listing cli admin' })).token;
    const published = await gql(
      'mutation($m: JSON!) { publishManifest(manifest: $m) { __typename ... on Error { message } } }',
      { m: manifest(`http://127.0.0.1:${await freePort()}`) },
      adminToken,
    );
    expect(published.data.publishManifest.__typename).toBe('ManifestPublished');
    const provider = await db
      .selectFrom('providers')
      .select('id')
      .where('slug', '=', 'vectorly')
      .executeTakeFirstOrThrow();
    providerToken = (await createApiToken(db, { kind: 'provider', name: 'vectorly', providerId: provider.id })).token;
    const other = await db
      .selectFrom('providers')
      .select('id')
      .where('slug', '<>', 'vectorly')
      .executeTakeFirstOrThrow();
    otherToken = (await createApiToken(db, { kind: 'provider', name: 'other', providerId: other.id })).token;
    const organization = await db
      .insertInto('organizations')
      .values({ slug: org, name: 'Early Birds' })
      .returning('id')
      .executeTakeFirstOrThrow();
    orgToken = (await createApiToken(db, { kind: 'org', name: org, organizationId: organization.id })).token;
  }, 120_000);

  afterAll(async () => {
    await marketplace?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('invites an organization to an ALPHA service, which it then sees; again changes nothing', async () => {
    expect(await sees(orgToken)).toBeNull();
    const io = captureIo({ ANNEX_CATALOG_URL: catalog, ANNEX_TOKEN: providerToken });
    expect(await runCli(['invite', org, '--service', 'vectorly-db'], io)).toBe(0);
    expect(io.out).toEqual([`invited ${org} to vectorly-db`]);
    expect(await sees(orgToken)).toEqual({ slug: 'vectorly-db', stage: 'ALPHA' });

    const again = captureIo();
    expect(
      await runCli(
        ['invite', org, '--service', 'vectorly-db', '--json', '--catalog', catalog, '--token', providerToken],
        again,
      ),
    ).toBe(0);
    expect(JSON.parse(again.out.join(''))).toMatchObject({
      service: { slug: 'vectorly-db', stage: 'ALPHA' },
      changed: false,
      invitation: { organization: org, organizationName: 'Early Birds' },
    });

    const list = captureIo();
    expect(await runCli(['invitations', '--json', '--catalog', catalog, '--token', providerToken], list)).toBe(0);
    expect(JSON.parse(list.out.join(''))).toEqual([
      {
        service: 'vectorly-db',
        stage: 'ALPHA',
        invitations: [expect.objectContaining({ organization: org, organizationName: 'Early Birds' })],
      },
    ]);
    const text = captureIo();
    expect(
      await runCli(['invitations', '--service', 'vectorly-db', '--catalog', catalog, '--token', providerToken], text),
    ).toBe(0);
    expect(text.out[0]).toBe('vectorly-db (ALPHA): ');
    expect(text.out[1]).toMatch(new RegExp(`^  ${org}  Early Birds  since \\d{4}-`));
  });

  it('exits 1 naming what is wrong: an unknown organization, another provider, a missing scope', async () => {
    const unknown = captureIo();
    expect(
      await runCli(
        ['invite', 'nobody', '--service', 'vectorly-db', '--catalog', catalog, '--token', providerToken],
        unknown,
      ),
    ).toBe(1);
    expect(unknown.err).toEqual(['error: inviting nobody to vectorly-db refused: no organization "nobody" (NotFound)']);

    const other = captureIo();
    expect(
      await runCli(['invite', org, '--service', 'vectorly-db', '--catalog', catalog, '--token', otherToken], other),
    ).toBe(1);
    expect(other.err).toEqual([`error: inviting ${org} to vectorly-db refused: no service "vectorly-db" (NotFound)`]);
    const theirs = captureIo();
    expect(
      await runCli(['invitations', '--service', 'vectorly-db', '--catalog', catalog, '--token', otherToken], theirs),
    ).toBe(1);
    expect(theirs.err).toEqual(['error: no service "vectorly-db" this token can see']);

    const usage = captureIo();
    expect(await runCli(['invite', org, '--catalog', catalog, '--token', providerToken], usage)).toBe(2);
    expect(usage.err[0]).toBe("error: invite needs --service SERVICE (the service's slug)");
  });

  it('withdraws an invitation: the organization no longer sees the service', async () => {
    const io = captureIo();
    expect(
      await runCli(['uninvite', org, '--service', 'vectorly-db', '--catalog', catalog, '--token', providerToken], io),
    ).toBe(0);
    expect(io.out).toEqual([`withdrew the invitation of ${org} to vectorly-db; its existing add-ons keep working`]);
    expect(await sees(orgToken)).toBeNull();
  });
});
