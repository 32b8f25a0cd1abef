import { lookup } from 'node:dns/promises';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { type OsbClient, osbClient, startTestBroker, type TestBroker } from '@annex/broker/testing';
import { isPublicAddress, SecretBox } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCatalog, type TestCatalog } from '../testing.js';
import { InvalidInputError } from './errors.js';
import { registerOsbBroker } from './osb-import.js';

/** The catalog example of the OSB 2.17 specification, as written there (ids included). */
const SPEC_EXAMPLE_CATALOG = {
  services: [
    {
      name: 'fake-service',
      id: 'acb56d7c-XXXX-XXXX-XXXX-feb140a59a66',
      description: 'A fake service.',
      tags: ['no-sql', 'relational'],
      requires: ['route_forwarding'],
      bindable: true,
      instances_retrievable: true,
      bindings_retrievable: true,
      allow_context_updates: true,
      metadata: {
        provider: { name: 'The name' },
        listing: {
          imageUrl: 'http://example.com/cat.gif',
          blurb: 'Add a blurb here',
          longDescription: 'A long time ago, in a galaxy far far away...',
        },
        displayName: 'The Fake Service Broker',
      },
      plan_updateable: true,
      plans: [
        {
          name: 'fake-plan-1',
          id: 'd3031751-XXXX-XXXX-XXXX-a42377d3320e',
          description: 'Shared fake Server, 5tb persistent disk, 40 max concurrent connections.',
          free: false,
          metadata: {
            max_storage_tb: 5,
            costs: [
              { amount: { usd: 99.0 }, unit: 'MONTHLY' },
              { amount: { usd: 0.99 }, unit: '1GB of messages over 20GB' },
            ],
            bullets: ['Shared fake server', '5 TB storage', '40 concurrent connections'],
          },
          schemas: {
            service_instance: {
              create: { parameters: billingAccountSchema() },
              update: { parameters: billingAccountSchema() },
            },
            service_binding: { create: { parameters: billingAccountSchema() } },
          },
          maintenance_info: { version: '2.1.1+abcdef', description: 'OS image update.\nExpect downtime.' },
        },
        {
          name: 'fake-plan-2',
          id: '0f4008b5-XXXX-XXXX-XXXX-dace631cd648',
          description: 'Shared fake Server, 5tb persistent disk, 40 max concurrent connections. 100 async.',
          free: false,
          metadata: {
            max_storage_tb: 5,
            costs: [
              { amount: { usd: 199.0 }, unit: 'MONTHLY' },
              { amount: { usd: 0.99 }, unit: '1GB of messages over 20GB' },
            ],
            bullets: ['40 concurrent connections'],
          },
        },
      ],
    },
  ],
};

function billingAccountSchema() {
  return {
    $schema: 'http://json-schema.org/draft-04/schema#',
    type: 'object',
    properties: {
      'billing-account': {
        description: 'Billing account number used to charge use of shared fake server.',
        type: 'string',
      },
    },
  };
}

/** The Legacy Co broker's catalog: two services, one paid plan with a parameters schema. */
function legacyCatalog() {
  return {
    services: [
      {
        id: 'b7f1c2a0-0000-4000-8000-000000000001',
        name: 'Legacy MySQL',
        description: 'MySQL from the old broker',
        bindable: true,
        tags: ['mysql', 'sql'],
        plan_updateable: true,
        metadata: {
          displayName: 'Legacy MySQL',
          category: 'databases',
          documentationUrl: 'https://legacy.example/docs',
        },
        plans: [
          { id: 'b7f1c2a0-0000-4000-8000-0000000000a1', name: 'small', description: 'Small instance', free: true },
          {
            id: 'b7f1c2a0-0000-4000-8000-0000000000a2',
            name: 'Large Instance',
            description: 'Large instance',
            free: false,
            maintenance_info: { version: '8.0.1' },
            metadata: {
              costs: [
                { amount: { usd: 49.99 }, unit: 'MONTHLY' },
                { amount: { usd: 0.05 }, unit: 'per GB' },
              ],
            },
            schemas: {
              service_instance: {
                create: { parameters: { type: 'object', properties: { version: { type: 'string' } } } },
              },
            },
          },
        ],
      },
      {
        id: 'b7f1c2a0-0000-4000-8000-000000000002',
        name: 'legacy-queue',
        description: 'Queues',
        bindable: false,
        plans: [{ id: 'b7f1c2a0-0000-4000-8000-0000000000b1', name: 'default', description: 'Default' }],
      },
    ],
  };
}

/**
 * A small plain OSB broker behind basic auth (`broker:s3cret`): `GET /v2/catalog` with a
 * catalog the test can change, and synchronous provisions it records.
 */
async function startBroker(catalog: Record<string, any> = legacyCatalog()) {
  const state = {
    catalog,
    seenVersion: '' as string | undefined,
    provisions: [] as { instanceId: string; body: Record<string, any> }[],
  };
  const app = express();
  app.get('/broken/v2/catalog', (_req, res) => {
    res.type('text/plain').send('<html>not json</html>');
  });
  app.use((req, res, next) => {
    state.seenVersion = req.header('x-broker-api-version');
    if (req.header('authorization') !== `Basic ${Buffer.from('broker:s3cret').toString('base64')}`) {
      res.status(401).json({ description: 'unauthorized' });
      return;
    }
    next();
  });
  app.get('/v2/catalog', (_req, res) => {
    res.json(state.catalog);
  });
  app.put('/v2/service_instances/:id', express.json(), (req, res) => {
    state.provisions.push({ instanceId: req.params.id, body: req.body });
    res.status(201).json({});
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    state,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

const REGISTER = /* GraphQL */ `
  mutation($input: RegisterOsbBrokerInput!) {
    registerOsbBroker(input: $input) {
      __typename
      ... on Error { message }
      ... on ManifestPublished { revision unchanged provider { slug source osbAuth } }
      ... on OsbBrokerUnavailable { status url }
      ... on InvalidInput { problems { path message } }
      ... on ManifestInvalid { problems { path message } }
      ... on SlugTaken { kind slug }
    }
  }
`;

describe.each(testDatabaseKinds('OSB broker import'))('OSB broker import on $name', (kind) => {
  let catalog: TestCatalog;
  let broker: Awaited<ReturnType<typeof startBroker>>;
  beforeAll(async () => {
    catalog = await startTestCatalog(kind);
    broker = await startBroker();
  });
  afterAll(async () => {
    await broker?.close();
    await catalog?.close();
  });

  const input = (overrides: Record<string, unknown> = {}) => ({
    url: broker.url,
    username: 'broker',
    password: 's3cret',
    providerSlug: 'legacy',
    providerName: 'Legacy Co',
    defaultCategory: 'QUEUES',
    ...overrides,
  });

  it('lists an OSB broker’s services and plans under a provider', async () => {
    const result = await catalog.gql(REGISTER, { input: input() }, catalog.adminToken);
    expect(result.data.registerOsbBroker).toEqual({
      __typename: 'ManifestPublished',
      revision: 1,
      unchanged: false,
      provider: { slug: 'legacy', source: 'osb_broker', osbAuth: 'basic' },
    });
    expect(broker.state.seenVersion).toBe('2.17');
    const { data } = await catalog.gql(
      `{
      provider(slug: "legacy") { name osbUrl services { osbId slug name category tags bindable planUpdateable documentationUrl
        plans { osbId slug free price { monthly currency metered { unit price } } maintenanceInfo { version } schemas } } }
    }`,
      {},
      catalog.adminToken,
    );
    expect(data.provider.name).toBe('Legacy Co');
    expect(data.provider.osbUrl).toBe(broker.url);
    expect(data.provider.services).toEqual([
      {
        osbId: 'b7f1c2a0-0000-4000-8000-000000000001',
        slug: 'legacy-mysql',
        name: 'Legacy MySQL',
        category: 'DATABASES',
        tags: ['mysql', 'sql'],
        bindable: true,
        planUpdateable: true,
        documentationUrl: 'https://legacy.example/docs',
        plans: [
          {
            osbId: 'b7f1c2a0-0000-4000-8000-0000000000a1',
            slug: 'small',
            free: true,
            price: { monthly: 0, currency: 'usd', metered: [] },
            maintenanceInfo: null,
            schemas: null,
          },
          {
            osbId: 'b7f1c2a0-0000-4000-8000-0000000000a2',
            slug: 'large-instance',
            free: false,
            price: { monthly: 4999, currency: 'usd', metered: [{ unit: 'per_gb', price: 5 }] },
            maintenanceInfo: { version: '8.0.1' },
            schemas: {
              service_instance: {
                create: { parameters: { type: 'object', properties: { version: { type: 'string' } } } },
              },
            },
          },
        ],
      },
      {
        osbId: 'b7f1c2a0-0000-4000-8000-000000000002',
        slug: 'legacy-queue',
        name: 'legacy-queue',
        category: 'QUEUES',
        tags: [],
        bindable: false,
        planUpdateable: false,
        documentationUrl: null,
        plans: [
          {
            osbId: 'b7f1c2a0-0000-4000-8000-0000000000b1',
            slug: 'default',
            free: true,
            price: { monthly: 0, currency: 'usd', metered: [] },
            maintenanceInfo: null,
            schemas: null,
          },
        ],
      },
    ]);
    // The password is stored sealed, never in clear text.
    const row = await catalog.database.db
      .selectFrom('providers')
      .select(['osb_username', 'osb_password_secret', 'osb_auth_kind'])
      .where('slug', '=', 'legacy')
      .executeTakeFirstOrThrow();
    expect(row.osb_username).toBe('broker');
    expect(row.osb_auth_kind).toBe('basic');
    expect(row.osb_password_secret).not.toContain('s3cret');
    expect(SecretBox.keyIdOf(row.osb_password_secret as string)).toBeTruthy();
  });

  it('refreshOsbBroker re-reads the catalog: unchanged writes nothing, changes become a revision', async () => {
    const refresh =
      'mutation { refreshOsbBroker(providerSlug: "legacy") { __typename ... on ManifestPublished { revision unchanged } ... on Error { message } } }';
    expect((await catalog.gql(refresh, {}, catalog.adminToken)).data.refreshOsbBroker).toEqual({
      __typename: 'ManifestPublished',
      revision: 1,
      unchanged: true,
    });
    broker.state.catalog.services[1].description = 'Durable queues';
    broker.state.catalog.services[1].plans.push({
      id: 'b7f1c2a0-0000-4000-8000-0000000000b2',
      name: 'big',
      description: 'Big',
    });
    expect((await catalog.gql(refresh, {}, catalog.adminToken)).data.refreshOsbBroker).toEqual({
      __typename: 'ManifestPublished',
      revision: 2,
      unchanged: false,
    });
    const { data } = await catalog.gql('{ service(slug: "legacy-queue") { description category plans { slug } } }');
    // The category chosen at registration survives a refresh.
    expect(data.service).toEqual({
      description: 'Durable queues',
      category: 'QUEUES',
      plans: [{ slug: 'default' }, { slug: 'big' }],
    });
    const anonymous = await catalog.gql(refresh);
    expect(anonymous.data.refreshOsbBroker.__typename).toBe('NotAuthorized');
    const unknown = await catalog.gql(
      'mutation { refreshOsbBroker(providerSlug: "nope") { __typename } }',
      {},
      catalog.adminToken,
    );
    expect(unknown.data.refreshOsbBroker.__typename).toBe('NotFound');
  });

  it('refreshOsbBroker refuses a registered URL in a private network once those are closed, calling nothing', async () => {
    // "legacy" was registered where private networks are open (127.0.0.1); the same database
    // behind a catalog where they are closed.
    const closed = await startTestCatalog(catalog.database, { ANNEX_ALLOW_PRIVATE_NETWORKS: 'false' });
    try {
      broker.state.seenVersion = undefined;
      const refused = await closed.gql(
        'mutation { refreshOsbBroker(providerSlug: "legacy") { __typename ... on InvalidInput { problems { path message } } } }',
        {},
        closed.adminToken,
      );
      expect(refused.data.refreshOsbBroker).toEqual({
        __typename: 'InvalidInput',
        problems: [
          { path: 'url', message: expect.stringMatching(/loopback, private or reserved address \(127\.0\.0\.1\)/) },
        ],
      });
      expect(broker.state.seenVersion).toBeUndefined();
    } finally {
      await closed.close();
    }
  });

  it('refuses a broker URL in a private network where those are closed, storing nothing', async () => {
    const admin = { kind: 'admin', tokenId: 'test', scopes: [] } as const;
    const secretBox = SecretBox.fromSpec(SecretBox.generateSpec());
    const outcome = await registerOsbBroker(
      catalog.database.db,
      admin,
      input({ providerSlug: 'inward', defaultCategory: null }),
      {
        secretBox,
        outbound: { allowPrivateNetworks: false },
      },
    );
    expect(outcome.ok).toBe(false);
    const error = (outcome as unknown as { error: InvalidInputError }).error;
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.problems).toEqual([
      { path: 'url', message: expect.stringMatching(/loopback, private or reserved address \(127\.0\.0\.1\)/) },
    ]);
    expect(
      await catalog.database.db.selectFrom('providers').select('slug').where('slug', '=', 'inward').execute(),
    ).toEqual([]);
  });

  it('judges the addresses a broker name resolves to when connecting, not only the URL text', async () => {
    // The machine's own name passes the up-front check (it is neither an address nor a
    // local name) and resolves to this machine: the catalog must not connect to it.
    const name = hostname();
    const addresses = await lookup(name, { all: true });
    expect(
      addresses.some((a) => !isPublicAddress(a.address)),
      `${name} should resolve to this machine`,
    ).toBe(true);
    const admin = { kind: 'admin', tokenId: 'test', scopes: [] } as const;
    const url = new URL(broker.url);
    url.hostname = name;
    broker.state.seenVersion = undefined;
    const outcome = await registerOsbBroker(
      catalog.database.db,
      admin,
      input({ providerSlug: 'renamed', defaultCategory: null, url: url.toString() }),
      { secretBox: SecretBox.fromSpec(SecretBox.generateSpec()), outbound: { allowPrivateNetworks: false } },
    );
    expect(outcome.ok).toBe(false);
    const error = (outcome as unknown as { error: InvalidInputError }).error;
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.problems).toEqual([
      { path: 'url', message: `${name} resolves to a loopback, private or reserved address` },
    ]);
    expect(broker.state.seenVersion).toBeUndefined();
    expect(
      await catalog.database.db.selectFrom('providers').select('slug').where('slug', '=', 'renamed').execute(),
    ).toEqual([]);
  });

  it('reports unreachable brokers, rejected credentials and malformed catalogs clearly, storing nothing', async () => {
    const wrong = await catalog.gql(
      REGISTER,
      { input: input({ providerSlug: 'x1', password: 'nope' }) },
      catalog.adminToken,
    );
    expect(wrong.data.registerOsbBroker).toMatchObject({ __typename: 'OsbBrokerUnavailable', status: 401 });
    expect(wrong.data.registerOsbBroker.message).toMatch(/rejected the credentials/);

    const closed = await startBroker();
    await closed.close();
    const unreachable = await catalog.gql(
      REGISTER,
      { input: input({ providerSlug: 'x2', url: closed.url }) },
      catalog.adminToken,
    );
    expect(unreachable.data.registerOsbBroker).toMatchObject({ __typename: 'OsbBrokerUnavailable', status: null });
    expect(unreachable.data.registerOsbBroker.message).toMatch(/could not reach the broker/);

    const notJson = await catalog.gql(
      REGISTER,
      { input: input({ providerSlug: 'x3', url: `${broker.url}/broken` }) },
      catalog.adminToken,
    );
    expect(notJson.data.registerOsbBroker.message).toMatch(/did not answer with JSON/);

    const saved = broker.state.catalog;
    broker.state.catalog = { services: [{ id: 'svc with spaces', name: 'x', plans: [] }] };
    try {
      const malformed = await catalog.gql(REGISTER, { input: input({ providerSlug: 'x4' }) }, catalog.adminToken);
      expect(malformed.data.registerOsbBroker.__typename).toBe('ManifestInvalid');
      expect(malformed.data.registerOsbBroker.message).toMatch(/catalog is malformed/);
      const paths = malformed.data.registerOsbBroker.problems.map((p: any) => p.path);
      expect(paths).toEqual(expect.arrayContaining(['services.0.id', 'services.0.bindable', 'services.0.plans']));
    } finally {
      broker.state.catalog = saved;
    }

    const badInput = await catalog.gql(
      REGISTER,
      { input: input({ providerSlug: 'x5', url: 'ftp://nope' }) },
      catalog.adminToken,
    );
    expect(badInput.data.registerOsbBroker).toMatchObject({ __typename: 'InvalidInput', problems: [{ path: 'url' }] });

    const notAdmin = await catalog.gql(REGISTER, { input: input({ providerSlug: 'x6' }) });
    expect(notAdmin.data.registerOsbBroker.__typename).toBe('NotAuthorized');

    const stored = await catalog.database.db
      .selectFrom('providers')
      .select('slug')
      .where('slug', 'in', ['x1', 'x2', 'x3', 'x4', 'x5', 'x6'])
      .execute();
    expect(stored).toEqual([]);
  });

  /** The Legacy Co catalog under other OSB ids: another broker with the same service names. */
  const sameNames = (idPrefix: string) => JSON.parse(JSON.stringify(legacyCatalog()).replaceAll('b7f1c2a0', idPrefix));
  const serviceSlugs = async (provider: string) =>
    (
      await catalog.gql(`{ provider(slug: "${provider}") { services { slug name } } }`, {}, catalog.adminToken)
    ).data.provider.services.map((s: { slug: string; name: string }) => [s.name, s.slug]);

  it('lists a second broker whose services share names, prefixing its slugs with its provider slug', async () => {
    const eu = await startBroker(sameNames('c8e2d3b1'));
    try {
      const registered = await catalog.gql(
        REGISTER,
        { input: input({ url: eu.url, providerSlug: 'eu' }) },
        catalog.adminToken,
      );
      expect(registered.data.registerOsbBroker).toMatchObject({ __typename: 'ManifestPublished', revision: 1 });
      expect(await serviceSlugs('eu')).toEqual([
        ['Legacy MySQL', 'eu-legacy-mysql'],
        ['legacy-queue', 'eu-legacy-queue'],
      ]);
      // The first broker's services keep theirs.
      expect(await serviceSlugs('legacy')).toEqual([
        ['Legacy MySQL', 'legacy-mysql'],
        ['legacy-queue', 'legacy-queue'],
      ]);
    } finally {
      await eu.close();
    }
  });

  it('keeps every slug across refreshes and re-registration, even when a service is renamed', async () => {
    const eu = await startBroker(sameNames('c8e2d3b1'));
    try {
      // The same provider registered again, at the broker's new address.
      const again = await catalog.gql(
        REGISTER,
        { input: input({ url: eu.url, providerSlug: 'eu' }) },
        catalog.adminToken,
      );
      expect(again.data.registerOsbBroker).toMatchObject({ __typename: 'ManifestPublished', unchanged: false });
      eu.state.catalog.services[0].name = 'MySQL 8';
      eu.state.catalog.services[0].metadata.displayName = 'MySQL 8';
      broker.state.catalog.services[1].name = 'Durable Queue';
      const refresh = (provider: string) =>
        catalog.gql(
          `mutation { refreshOsbBroker(providerSlug: "${provider}") { __typename ... on ManifestPublished { unchanged } } }`,
          {},
          catalog.adminToken,
        );
      expect((await refresh('eu')).data.refreshOsbBroker).toEqual({
        __typename: 'ManifestPublished',
        unchanged: false,
      });
      expect((await refresh('legacy')).data.refreshOsbBroker).toEqual({
        __typename: 'ManifestPublished',
        unchanged: false,
      });
      expect(await serviceSlugs('eu')).toEqual([
        ['MySQL 8', 'eu-legacy-mysql'],
        ['legacy-queue', 'eu-legacy-queue'],
      ]);
      expect(await serviceSlugs('legacy')).toEqual([
        ['Legacy MySQL', 'legacy-mysql'],
        ['Durable Queue', 'legacy-queue'],
      ]);
    } finally {
      await eu.close();
    }
  });

  it('says what to do when even the prefixed slug is taken, storing nothing', async () => {
    const squatter = await startBroker({
      services: [
        {
          id: 'd9f3e4c2-svc',
          name: 'late-legacy-mysql',
          description: 'A service named like a prefixed slug',
          bindable: false,
          plans: [{ id: 'd9f3e4c2-plan', name: 'default', description: 'Default' }],
        },
      ],
    });
    const late = await startBroker(sameNames('e0a4f5d3'));
    try {
      const squatted = await catalog.gql(
        REGISTER,
        { input: input({ url: squatter.url, providerSlug: 'squatter' }) },
        catalog.adminToken,
      );
      expect(squatted.data.registerOsbBroker.__typename).toBe('ManifestPublished');
      const refused = await catalog.gql(
        REGISTER,
        { input: input({ url: late.url, providerSlug: 'late' }) },
        catalog.adminToken,
      );
      expect(refused.data.registerOsbBroker).toEqual({
        __typename: 'SlugTaken',
        kind: 'service',
        slug: 'late-legacy-mysql',
        message:
          'service slug "late-legacy-mysql" is used by another provider (a new service whose name another provider lists takes this provider\'s slug as a prefix, and that slug is taken too); register the broker under a different provider slug than "late"',
      });
      expect(
        await catalog.database.db.selectFrom('providers').select('slug').where('slug', '=', 'late').execute(),
      ).toEqual([]);
    } finally {
      await squatter.close();
      await late.close();
    }
  });
});

describe.each(testDatabaseKinds('OSB spec example broker'))(
  'a broker shaped like the OSB spec’s example on $name',
  (kind) => {
    let catalog: TestCatalog;
    let broker: TestBroker;
    let plain: Awaited<ReturnType<typeof startBroker>>;
    let osb: OsbClient;
    beforeAll(async () => {
      catalog = await startTestCatalog(kind);
      broker = await startTestBroker(catalog.database, {}, catalog.secretBox);
      plain = await startBroker(SPEC_EXAMPLE_CATALOG);
      await catalog.gql(
        'mutation { createOrganization(slug: "spec-org", name: "Spec Org") { __typename } }',
        {},
        catalog.adminToken,
      );
      const platform = await catalog.gql(
        `mutation { createPlatform(slug: "spec-cf", name: "Spec CF", organizations: ["spec-org"]) {
        ... on PlatformCreated { osbUsername osbPassword } } }`,
        {},
        catalog.adminToken,
      );
      osb = osbClient(broker.url, {
        username: platform.data.createPlatform.osbUsername,
        password: platform.data.createPlatform.osbPassword,
      });
    });
    afterAll(async () => {
      await broker?.close();
      await plain?.close();
      await catalog?.close();
    });

    it('registers its draft-04 schemas, and the broker validates provisions with them', async () => {
      const input = { url: plain.url, username: 'broker', password: 's3cret', providerSlug: 'spec-broker' };
      const registered = await catalog.gql(REGISTER, { input }, catalog.adminToken);
      expect(registered.data.registerOsbBroker).toMatchObject({ __typename: 'ManifestPublished', revision: 1 });

      // Platforms see the schemas as the broker declared them, dialect included.
      const offered = await osb('GET', '/v2/catalog');
      const plan = offered.body.services[0].plans.find((p: any) => p.name === 'fake-plan-1');
      expect(plan.schemas).toEqual(SPEC_EXAMPLE_CATALOG.services[0]?.plans[0]?.schemas);

      const provision = (parameters: Record<string, unknown>) =>
        osb('PUT', `/v2/service_instances/spec-${Math.random().toString(36).slice(2, 10)}`, {
          service_id: 'acb56d7c-XXXX-XXXX-XXXX-feb140a59a66',
          plan_id: 'd3031751-XXXX-XXXX-XXXX-a42377d3320e',
          organization_guid: 'spec-org',
          space_guid: 'space',
          parameters,
        });
      const refused = await provision({ 'billing-account': 1234 });
      expect(refused.status).toBe(400);
      expect(refused.body).toEqual({
        error: 'BadRequest',
        description: 'provision parameters are invalid: parameters/billing-account must be string',
      });
      expect(plain.state.provisions).toEqual([]);

      const accepted = await provision({ 'billing-account': 'ACME-1234' });
      expect(accepted.status).toBe(201);
      expect(plain.state.provisions.map((p) => p.body.parameters)).toEqual([{ 'billing-account': 'ACME-1234' }]);
    });

    it('refuses a plan schema in a dialect it does not know, naming it, and stores nothing', async () => {
      const other = await startBroker({
        services: [
          {
            id: 'draft3-svc',
            name: 'draft3',
            description: 'An old broker',
            bindable: false,
            plans: [
              {
                id: 'draft3-plan',
                name: 'only',
                description: 'The only plan',
                schemas: {
                  service_instance: {
                    create: { parameters: { $schema: 'http://json-schema.org/draft-03/schema#', type: 'object' } },
                  },
                },
              },
            ],
          },
        ],
      });
      try {
        const input = { url: other.url, username: 'broker', password: 's3cret', providerSlug: 'draft3-broker' };
        const refused = await catalog.gql(REGISTER, { input }, catalog.adminToken);
        expect(refused.data.registerOsbBroker).toMatchObject({
          __typename: 'ManifestInvalid',
          problems: [
            {
              path: 'services.0.plans.0.schemas.instance.create',
              message: expect.stringMatching(
                /^\$schema "http:\/\/json-schema\.org\/draft-03\/schema#" is not a JSON Schema dialect Annex supports; use one of http:\/\/json-schema\.org\/draft-04\/schema#, /,
              ),
            },
          ],
        });
        expect(
          await catalog.database.db
            .selectFrom('providers')
            .select('slug')
            .where('slug', '=', 'draft3-broker')
            .execute(),
        ).toEqual([]);
      } finally {
        await other.close();
      }
    });
  },
);
