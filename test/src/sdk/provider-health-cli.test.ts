import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type CatalogFixture,
  type FakeProvider,
  osbClient,
  seedCatalog,
  startFakeProvider,
  startTestBroker,
  type TestBroker,
} from '@annex/broker/testing';
import { createCatalog, loadCatalogConfig } from '@annex/catalog';
import { createApiToken, createLogger, type Database } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import { type CliIo, runCli } from '@annex/sdk/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// `annex-provider health` against a running catalog and broker: a provider whose endpoint
// answers 500 to a provision sees that failure, with what it answered, in the table and in
// --json; another provider's token is refused.

describe.each(testDatabaseKinds('annex-provider health'))('annex-provider health ($name)', (kind) => {
  let database: Database;
  let provider: FakeProvider;
  let broker: TestBroker;
  let catalogServer: Server;
  let catalogUrl = '';
  let fx: CatalogFixture;
  let serviceSlug = '';
  const tokens: Record<string, string> = {};

  const cli = async (argv: string[], token = tokens.provider) => {
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIo = {
      stdout: (line) => out.push(line),
      stderr: (line) => err.push(line),
      cwd: process.cwd(),
      env: { ANNEX_CATALOG_URL: catalogUrl, ANNEX_TOKEN: token },
    };
    const code = await runCli(argv, io);
    return { code, out: out.join('\n'), err: err.join('\n') };
  };

  beforeAll(async () => {
    database = await kind.open();
    provider = await startFakeProvider({ auth: { kind: 'basic', username: 'broker', password: 'pw' } });
    broker = await startTestBroker(database);
    fx = await seedCatalog(database.db, broker.secretBox, {
      providerUrl: provider.url,
      auth: { kind: 'basic', username: 'broker', password: 'pw' },
      plans: [{ slug: 'small' }, { slug: 'broken' }],
    });
    const other = await seedCatalog(database.db, broker.secretBox, {
      providerUrl: provider.url,
      auth: { kind: 'basic', username: 'broker', password: 'pw' },
      plans: [{ slug: 'small' }],
    });
    provider.options.modes = { [fx.plans.broken?.osbId as string]: 'fail500' };
    const catalog = createCatalog(
      loadCatalogConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', CATALOG_BROKER_URL: broker.url }),
      { database, logger: createLogger('catalog', 'silent'), secretBox: broker.secretBox },
    );
    await catalog.start();
    catalogServer = createServer(catalog.app);
    await new Promise<void>((resolve) => catalogServer.listen(0, '127.0.0.1', resolve));
    catalogUrl = `http://127.0.0.1:${(catalogServer.address() as AddressInfo).port}/graphql`;
    serviceSlug = (
      await database.db.selectFrom('services').select('slug').where('id', '=', fx.serviceId).executeTakeFirstOrThrow()
    ).slug;
    tokens.provider = (
      await createApiToken(database.db, { kind: 'provider', name: 'p', providerId: fx.providerId })
    ).token;
    tokens.other = (
      await createApiToken(database.db, { kind: 'provider', name: 'q', providerId: other.providerId })
    ).token;

    const osb = osbClient(broker.url, { username: fx.osbUsername, password: fx.osbPassword });
    const provision = (plan: 'small' | 'broken') =>
      osb('PUT', `/v2/service_instances/cli-${randomUUID()}`, {
        service_id: fx.serviceOsbId,
        plan_id: fx.plans[plan]?.osbId,
        organization_guid: 'o',
        space_guid: 's',
      });
    expect((await provision('small')).status).toBe(201);
    expect((await provision('broken')).status).toBeGreaterThanOrEqual(500);
    await broker.broker.providerCalls.flush();
  }, 60_000);
  afterAll(async () => {
    catalogServer?.closeAllConnections();
    await new Promise<void>((resolve) => (catalogServer ? catalogServer.close(() => resolve()) : resolve()));
    await broker?.close();
    await provider?.close();
    await database?.close();
  });

  it('prints a table per operation and the failure with what the provider answered', async () => {
    const { code, out, err } = await cli(['health', '--provider', fx.providerSlug]);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toContain(`Health of ${fx.providerSlug} (all services)`);
    expect(out).toMatch(/^operation\s+calls 1h\s+errors\s+rate\s+p50\s+p99\s+calls 30d/m);
    expect(out).toMatch(/^provision\s+2\s+1\s+50\.0%\s+\d+ms\s+\d+ms\s+2\s+1\s+50\.0%/m);
    expect(out).toContain('Recent failures (newest first, 1):');
    expect(out).toMatch(new RegExp(`provision  ${serviceSlug}  500  \\d+ms  internal error after creating$`, 'm'));
  });

  it('prints the catalog answer with --json, and filters by service', async () => {
    const { code, out } = await cli(['health', '--provider', fx.providerSlug, '--service', serviceSlug, '--json']);
    expect(code).toBe(0);
    const health = JSON.parse(out);
    expect(health.service).toBe(serviceSlug);
    expect(health.operations.find((o: { operation: string }) => o.operation === 'provision').last30Days).toMatchObject({
      count: 2,
      errors: 1,
      errorRate: 0.5,
    });
    expect(health.failures[0]).toMatchObject({ status: 500, description: 'internal error after creating' });
    expect(health.hourly).toHaveLength(24);
  });

  it("refuses another provider's token and names a service the provider does not have", async () => {
    const refused = await cli(['health', '--provider', fx.providerSlug], tokens.other);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/^error: the catalog answered: .*own data is not for another provider's token/);
    const unknown = await cli(['health', '--provider', fx.providerSlug, '--service', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('has no service nope');
  });

  it('asks which provider when neither --provider nor a manifest says', async () => {
    const { code, err } = await cli(['health']);
    expect(code).toBe(2);
    expect(err).toMatch(/^error: which provider\? pass --provider SLUG/);
  });
});
