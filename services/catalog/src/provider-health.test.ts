import { randomUUID } from 'node:crypto';
import {
  type CatalogFixture,
  type FakeProvider,
  osbClient,
  seedCatalog,
  startFakeProvider,
  startTestBroker,
  type TestBroker,
} from '@annex/broker/testing';
import { createApiToken, type Database } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCatalog, type TestCatalog } from './testing.js';

// A provider's health through GraphQL: `Provider.health` for the provider's own token (read
// from the broker with it), refused to anyone else; the coarse `Service.health` for anyone.

const HEALTH = `query($p: String!, $s: String) {
  provider(slug: $p) {
    health(service: $s) {
      service
      overall { lastHour { count errors } last30Days { count errors } }
      operations { operation lastHour { count errors errorRate p50Ms p99Ms } last30Days { count errors } }
      failures { operation service outcome status error description latencyMs at }
      hourly { start count errors errorRate p50Ms }
      daily { start count }
    }
  }
}`;

describe.each(testDatabaseKinds('provider health GraphQL'))('provider health in GraphQL ($name)', (kind) => {
  let database: Database;
  let provider: FakeProvider;
  let broker: TestBroker;
  let catalog: TestCatalog;
  let fx: CatalogFixture;
  let other: CatalogFixture;
  let serviceSlug = '';
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    database = await kind.open();
    provider = await startFakeProvider({ auth: { kind: 'basic', username: 'broker', password: 'pw' } });
    broker = await startTestBroker(database);
    fx = await seedCatalog(database.db, broker.secretBox, {
      providerUrl: provider.url,
      auth: { kind: 'basic', username: 'broker', password: 'pw' },
      plans: [{ slug: 'small' }, { slug: 'broken' }],
    });
    other = await seedCatalog(database.db, broker.secretBox, {
      providerUrl: provider.url,
      auth: { kind: 'basic', username: 'broker', password: 'pw' },
      plans: [{ slug: 'small' }],
    });
    provider.options.modes = { [fx.plans.broken?.osbId as string]: 'fail500' };
    catalog = await startTestCatalog(database, { CATALOG_BROKER_URL: broker.url });
    serviceSlug = (
      await database.db.selectFrom('services').select('slug').where('id', '=', fx.serviceId).executeTakeFirstOrThrow()
    ).slug;
    const org = await database.db
      .selectFrom('platform_organizations')
      .select('organization_id')
      .where('platform_id', '=', fx.platformId)
      .executeTakeFirstOrThrow();
    const make = async (input: Parameters<typeof createApiToken>[1]) =>
      (await createApiToken(database.db, input)).token;
    tokens.provider = await make({ kind: 'provider', name: 'p', providerId: fx.providerId });
    tokens.other = await make({ kind: 'provider', name: 'q', providerId: other.providerId });
    tokens.publishOnly = await make({
      kind: 'provider',
      name: 'r',
      providerId: fx.providerId,
      scopes: ['catalog:publish'],
    });
    tokens.org = await make({ kind: 'org', name: 'o', organizationId: org.organization_id });

    // Calls to the provider: one provision that succeeds, three that it answers 500.
    const osb = osbClient(broker.url, { username: fx.osbUsername, password: fx.osbPassword });
    const provision = (plan: 'small' | 'broken') =>
      osb('PUT', `/v2/service_instances/gql-${randomUUID()}`, {
        service_id: fx.serviceOsbId,
        plan_id: fx.plans[plan]?.osbId,
        organization_guid: 'o',
        space_guid: 's',
      });
    expect((await provision('small')).status).toBe(201);
    for (let i = 0; i < 3; i++) expect((await provision('broken')).status).toBeGreaterThanOrEqual(500);
    await broker.broker.providerCalls.flush();
  }, 60_000);
  afterAll(async () => {
    await catalog?.close();
    await broker?.close();
    await provider?.close();
    await database?.close();
  });

  it('shows the provider its failures with its answer, counts, error rate and latencies, and the series', async () => {
    const { data, errors } = await catalog.gql(HEALTH, { p: fx.providerSlug }, tokens.provider);
    expect(errors).toBeUndefined();
    const health = data.provider.health;
    const provisions = health.operations.find((o: { operation: string }) => o.operation === 'provision');
    expect(provisions.lastHour).toMatchObject({ count: 4, errors: 3, errorRate: 0.75 });
    expect(provisions.lastHour.p50Ms).toBeGreaterThanOrEqual(0);
    expect(provisions.last30Days).toEqual({ count: 4, errors: 3 });
    expect(health.failures).toHaveLength(3);
    expect(health.failures[0]).toMatchObject({
      operation: 'provision',
      service: serviceSlug,
      outcome: 'error',
      status: 500,
      error: null,
      description: 'internal error after creating',
    });
    expect(Date.parse(health.failures[0].at)).toBeGreaterThan(Date.now() - 60_000);
    expect(health.hourly).toHaveLength(24);
    expect(health.daily).toHaveLength(30);
    const lastTwo = health.hourly.slice(-2).reduce((sum: number, b: { count: number }) => sum + b.count, 0);
    expect(lastTwo).toBe(health.overall.lastHour.count);

    const filtered = await catalog.gql(HEALTH, { p: fx.providerSlug, s: serviceSlug }, tokens.provider);
    expect(filtered.data.provider.health.service).toBe(serviceSlug);
    const admin = await catalog.gql(HEALTH, { p: fx.providerSlug }, catalog.adminToken);
    expect(admin.data.provider.health.failures).toEqual(health.failures);
  });

  it("refuses another provider's token, an org token and a token without provider:read", async () => {
    const refused = async (token: string | undefined) => {
      const answer = await catalog.gql(HEALTH, { p: fx.providerSlug }, token);
      // The field is refused, with its error; the rest of the provider is answered.
      expect(answer.data?.provider?.health ?? null).toBeNull();
      return answer.errors?.[0];
    };
    expect(await refused(tokens.other)).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    expect(await refused(tokens.org)).toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
    // Without a token the provider's services are not public here: no provider, and no health.
    expect((await catalog.gql(HEALTH, { p: fx.providerSlug })).data?.provider ?? null).toBeNull();
    const noScope = await refused(tokens.publishOnly);
    expect(noScope).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    expect(noScope?.message).toContain('provider:read');
  });

  it('names a service the provider does not have', async () => {
    const answer = await catalog.gql(HEALTH, { p: fx.providerSlug, s: 'nope' }, tokens.provider);
    expect(answer.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
    expect(answer.errors?.[0]?.message).toContain('has no service nope');
  });

  it('shows any caller the coarse health of each service, in one statement for all of them', async () => {
    const query = (withHealth: boolean) => `{ providers { slug services { slug ${withHealth ? 'health' : ''} } } }`;
    // A platform's token sees both providers' services (the admin's, here).
    const token = catalog.adminToken;
    await catalog.gql(query(false), {}, token);
    let before = catalog.statements.count;
    await catalog.gql(query(false), {}, token);
    const without = catalog.statements.count - before;
    before = catalog.statements.count;
    const { data, errors } = await catalog.gql(query(true), {}, token);
    expect(errors).toBeUndefined();
    expect(catalog.statements.count - before).toBe(without + 1);
    const health = Object.fromEntries(
      data.providers.flatMap((p: { services: { slug: string; health: string }[] }) =>
        p.services.map((s) => [s.slug, s.health]),
      ),
    );
    expect(health[serviceSlug]).toBe('FAILING');
    const otherSlug = (
      await database.db
        .selectFrom('services')
        .select('slug')
        .where('id', '=', other.serviceId)
        .executeTakeFirstOrThrow()
    ).slug;
    expect(health[otherSlug]).toBe('OK');
  });

  it('warns in the attach preflight, without refusing, when the service is failing', async () => {
    const app = `health-gql-${kind.name}`;
    const created = await catalog.gql(
      'mutation($input: CreateAppInput!) { createApp(input: $input) { __typename } }',
      { input: { name: app } },
      tokens.org,
    );
    expect(created.data?.createApp.__typename, JSON.stringify(created)).toBe('CreateAppSuccess');
    const { data } = await catalog.gql(
      `query($input: AttachPreflightInput!) {
        attachPreflight(input: $input) { ... on Preflight { ok serviceHealth warnings problems } }
      }`,
      { input: { app, plan: `${serviceSlug}:small` } },
      tokens.org,
    );
    expect(data.attachPreflight).toMatchObject({ ok: true, serviceHealth: 'FAILING', problems: [] });
    expect(data.attachPreflight.warnings).toEqual([expect.stringContaining(`${serviceSlug} is failing`)]);
  });
});
