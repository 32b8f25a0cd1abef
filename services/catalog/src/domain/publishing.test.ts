import { createApiToken } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PUBLISH, sampleManifest, startTestCatalog, type TestCatalog } from '../testing.js';
import { ManifestInvalidError } from './errors.js';
import { publishManifest } from './publishing.js';

const ADMIN = { kind: 'admin', tokenId: 'test', scopes: [] } as const;

describe.each(testDatabaseKinds('catalog publishing'))('publishing on $name', (kind) => {
  let catalog: TestCatalog;
  beforeAll(async () => {
    catalog = await startTestCatalog(kind);
  });
  afterAll(async () => catalog?.close());

  const revisions = async (slug: string) =>
    catalog.database.db
      .selectFrom('provider_revisions as r')
      .innerJoin('providers as p', 'p.id', 'r.provider_id')
      .select(['r.revision', 'r.digest'])
      .where('p.slug', '=', slug)
      .orderBy('r.revision')
      .execute();

  it('publishes a manifest that then shows up in queries, with every field', async () => {
    const published = await catalog.gql(PUBLISH, { manifest: sampleManifest() }, catalog.adminToken);
    expect(published.data.publishManifest).toEqual({
      __typename: 'ManifestPublished',
      revision: 1,
      unchanged: false,
      provider: { slug: 'acme', currentRevision: 1 },
    });
    const { data, errors } = await catalog.gql(`{
      provider(slug: "acme") { name description supportEmail logoUrl listingState source osbAuth osbUrl
        services { slug } }
      service(slug: "acme-postgres") {
        id osbId name category tags bindable configVars regions documentationUrl status deprecated
        provider { slug }
        plans { osbId slug free price { monthly currency metered { unit price } } bindable planUpdateable
          bindingRotatable maintenanceInfo { version } maximumPollingDuration schemas visibility regions status
          service { slug } }
      }
    }`);
    expect(errors).toBeUndefined();
    expect(data.provider).toEqual({
      name: 'Acme Data',
      description: 'Databases and caches',
      supportEmail: 'support@acme.example',
      logoUrl: 'https://acme.example/logo.png',
      listingState: 'BETA',
      source: 'manifest',
      osbAuth: 'jwt',
      osbUrl: null,
      services: [{ slug: 'acme-postgres' }, { slug: 'acme-redis' }],
    });
    const service = data.service;
    expect(service).toMatchObject({
      osbId: 'acme-postgres',
      name: 'Acme Postgres',
      category: 'DATABASES',
      tags: ['sql', 'relational'],
      configVars: ['DATABASE_URL'],
      regions: ['eu-west', 'us-east'],
      documentationUrl: 'https://acme.example/docs/postgres',
      status: 'ACTIVE',
      deprecated: false,
      provider: { slug: 'acme' },
    });
    expect(service.plans).toEqual([
      {
        osbId: 'acme-postgres-hobby',
        slug: 'hobby',
        free: true,
        price: { monthly: 0, currency: 'usd', metered: [] },
        bindable: true,
        planUpdateable: false,
        bindingRotatable: false,
        maintenanceInfo: null,
        maximumPollingDuration: null,
        schemas: null,
        visibility: 'PUBLIC',
        regions: ['eu-west', 'us-east'],
        status: 'ACTIVE',
        service: { slug: 'acme-postgres' },
      },
      {
        osbId: 'acme-postgres-pro',
        slug: 'pro',
        free: false,
        price: { monthly: 2500, currency: 'usd', metered: [{ unit: 'gb_storage', price: 12.5 }] },
        bindable: true,
        planUpdateable: true,
        bindingRotatable: false,
        maintenanceInfo: { version: '16.2.0' },
        maximumPollingDuration: 3600,
        schemas: {
          service_instance: {
            create: { parameters: { type: 'object', properties: { size: { type: 'integer', minimum: 1 } } } },
          },
        },
        visibility: 'PUBLIC',
        regions: ['eu-west', 'us-east'],
        status: 'ACTIVE',
        service: { slug: 'acme-postgres' },
      },
    ]);
    // The same service by global id, by OSB id and through node().
    const byIds = await catalog.gql(
      `query($id: ID!) { a: service(id: $id) { slug } b: service(id: "acme-postgres") { slug }
         node(id: $id) { __typename ... on Service { slug } } plan(id: "acme-redis-mini") { slug service { slug } } }`,
      { id: service.id },
    );
    expect(byIds.data).toEqual({
      a: { slug: 'acme-postgres' },
      b: { slug: 'acme-postgres' },
      node: { __typename: 'Service', slug: 'acme-postgres' },
      plan: { slug: 'mini', service: { slug: 'acme-redis' } },
    });
  });

  it('republishing the same manifest is idempotent; a changed one is the next revision', async () => {
    const before = await revisions('acme');
    const again = await catalog.gql(PUBLISH, { manifest: sampleManifest() }, catalog.adminToken);
    expect(again.data.publishManifest).toMatchObject({ revision: 1, unchanged: true });
    expect(await revisions('acme')).toEqual(before);

    const changed = sampleManifest({ name: 'Acme Data Inc.' });
    const next = await catalog.gql(PUBLISH, { manifest: changed }, catalog.adminToken);
    expect(next.data.publishManifest).toMatchObject({ revision: 2, unchanged: false });
    const after = await revisions('acme');
    expect(after.map((r) => r.revision)).toEqual([1, 2]);
    expect(after[1]?.digest).not.toBe(after[0]?.digest);
    const { data } = await catalog.gql('{ provider(slug: "acme") { name currentRevision } }');
    expect(data.provider).toEqual({ name: 'Acme Data Inc.', currentRevision: 2 });
  });

  it('concurrent publishes of the same new manifest store one revision', async () => {
    const manifest = sampleManifest({
      slug: 'racer',
      name: 'Racer',
      services: [
        {
          id: 'racer-q',
          slug: 'racer-q',
          name: 'Racer Queue',
          description: 'Queues',
          category: 'queues',
          bindable: true,
          plans: [{ id: 'racer-q-free', slug: 'free', description: 'Free' }],
        },
      ],
    });
    const results = await Promise.all([1, 2, 3].map(() => catalog.gql(PUBLISH, { manifest }, catalog.adminToken)));
    const payloads = results.map((r) => r.data.publishManifest);
    expect(payloads.map((p) => p.revision)).toEqual([1, 1, 1]);
    expect(payloads.filter((p) => !p.unchanged)).toHaveLength(1);
    expect((await revisions('racer')).map((r) => r.revision)).toEqual([1]);
  });

  it('a bad manifest gets ManifestInvalid naming every bad field, and nothing is stored', async () => {
    const manifest = sampleManifest({ slug: 'broken' }) as any;
    manifest.supportEmail = 'not-an-email';
    manifest.services[0].category = 'gardening';
    manifest.services[0].plans[1].price.monthly = -5;
    manifest.services[0].plans[1].schemas.instance.create = { $ref: 'https://evil.example/schema.json' };
    manifest.services[1].configVars = ['redis_url'];
    // Cross-field problems are listed even though other fields of the same objects are invalid.
    manifest.services[1].id = manifest.services[0].id;
    const result = await catalog.gql(PUBLISH, { manifest }, catalog.adminToken);
    const payload = result.data.publishManifest;
    expect(payload.__typename).toBe('ManifestInvalid');
    const paths = payload.problems.map((p: { path: string }) => p.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'supportEmail',
        'services.0.category',
        'services.0.plans.1.price.monthly',
        'services.0.plans.1.schemas.instance.create',
        'services.1.configVars.0',
        'services.1.id',
      ]),
    );
    expect(payload.message).toMatch(/problem/);
    const stored = await catalog.database.db
      .selectFrom('providers')
      .select('slug')
      .where('slug', '=', 'broken')
      .execute();
    expect(stored).toEqual([]);
  });

  it('refuses an OSB URL in a private network where those are closed, and stores nothing', async () => {
    const closed = { allowPrivateNetworks: false };
    // A provider of its own (ids unique), so only its OSB URL decides.
    const own = sampleManifest({ slug: 'inward' });
    const inward = (url: string) => ({
      ...own,
      osb: { url },
      services: own.services.map((service) => ({
        ...service,
        id: `inward-${service.id}`,
        slug: `inward-${service.slug}`,
        plans: service.plans.map((plan) => ({ ...plan, id: `inward-${plan.id}` })),
      })),
    });
    for (const [url, reason] of [
      ['http://127.0.0.1:4100', /loopback, private or reserved address \(127\.0\.0\.1\)/],
      ['http://10.0.0.7/osb', /\(10\.0\.0\.7\)/],
      ['http://metadata.google.internal/', /local host name/],
    ] as const) {
      const outcome = await publishManifest(catalog.database.db, ADMIN, inward(url), { outbound: closed });
      expect(outcome.ok).toBe(false);
      const error = (outcome as unknown as { error: ManifestInvalidError }).error;
      expect(error).toBeInstanceOf(ManifestInvalidError);
      expect(error.problems).toEqual([{ path: 'osb.url', message: expect.stringMatching(reason) }]);
    }
    expect(
      await catalog.database.db.selectFrom('providers').select('slug').where('slug', '=', 'inward').execute(),
    ).toEqual([]);
    // The same URL where private networks are open (development, tests) publishes.
    const open = await publishManifest(catalog.database.db, ADMIN, inward('http://127.0.0.1:4100'), {
      outbound: { allowPrivateNetworks: true },
    });
    expect(open).toMatchObject({ ok: true, revision: 1 });
  });

  it('a catalog whose private networks are closed refuses such an OSB URL through GraphQL too', async () => {
    const closed = await startTestCatalog(kind, { ANNEX_ALLOW_PRIVATE_NETWORKS: 'false' });
    try {
      const manifest = sampleManifest({ osb: { url: 'http://127.0.0.1:4100' } });
      const refused = await closed.gql(PUBLISH, { manifest }, closed.adminToken);
      expect(refused.data.publishManifest).toMatchObject({
        __typename: 'ManifestInvalid',
        problems: [{ path: 'osb.url', message: expect.stringMatching(/loopback, private or reserved address/) }],
      });
      expect(await closed.database.db.selectFrom('providers').select('slug').execute()).toEqual([]);
    } finally {
      await closed.close();
    }
  });

  it('a provider token publishes its own provider only; anonymous callers cannot publish', async () => {
    const created = await catalog.gql(
      'mutation { createProvider(slug: "solo", name: "Solo") { __typename ... on ProviderCreated { token } } }',
      {},
      catalog.adminToken,
    );
    const token = created.data.createProvider.token as string;
    const own = await catalog.gql(
      PUBLISH,
      {
        manifest: sampleManifest({
          slug: 'solo',
          name: 'Solo',
          services: [
            {
              id: 'solo-mail',
              slug: 'solo-mail',
              name: 'Solo Mail',
              description: 'Transactional email',
              category: 'email',
              bindable: true,
              plans: [{ id: 'solo-mail-free', slug: 'free', description: 'Free tier' }],
            },
          ],
        }),
      },
      token,
    );
    expect(own.data.publishManifest).toMatchObject({ __typename: 'ManifestPublished', revision: 1 });
    const other = await catalog.gql(PUBLISH, { manifest: sampleManifest({ name: 'Hijacked' }) }, token);
    expect(other.data.publishManifest).toMatchObject({ __typename: 'NotAuthorized' });
    const anonymous = await catalog.gql(PUBLISH, { manifest: sampleManifest({ name: 'Hijacked' }) });
    expect(anonymous.data.publishManifest.__typename).toBe('NotAuthorized');
    const { data } = await catalog.gql('{ provider(slug: "acme") { name } }');
    expect(data.provider.name).not.toBe('Hijacked');
  });

  it('an OSB id another provider owns is an IdConflict, and nothing is stored', async () => {
    const manifest = sampleManifest({ slug: 'copycat', name: 'Copycat' }) as any;
    manifest.services = [{ ...manifest.services[1], slug: 'copy-redis' }];
    const result = await catalog.gql(PUBLISH, { manifest }, catalog.adminToken);
    expect(result.data.publishManifest).toMatchObject({ __typename: 'IdConflict', kind: 'service', id: 'acme-redis' });
    const plansOnly = sampleManifest({ slug: 'copycat', name: 'Copycat' }) as any;
    plansOnly.services = [{ ...plansOnly.services[1], id: 'copy-redis', slug: 'copy-redis' }];
    const planConflict = await catalog.gql(PUBLISH, { manifest: plansOnly }, catalog.adminToken);
    expect(planConflict.data.publishManifest).toMatchObject({
      __typename: 'IdConflict',
      kind: 'plan',
      id: 'acme-redis-mini',
    });
    const { data } = await catalog.gql('{ provider(slug: "copycat") { slug } }', {}, catalog.adminToken);
    expect(data.provider).toBeNull();
  });

  it('a plan with live instances cannot be removed, only deprecated; without live instances it goes', async () => {
    const db = catalog.database.db;
    const plan = await db
      .selectFrom('plans')
      .select(['id', 'service_id'])
      .where('osb_id', '=', 'acme-postgres-pro')
      .executeTakeFirstOrThrow();
    await db
      .insertInto('service_instances')
      .values({
        id: 'instance-1',
        service_id: plan.service_id,
        plan_id: plan.id,
        organization_guid: 'org',
        space_guid: 'space',
        context: '{}',
        parameters: '{}',
        state: 'provisioned',
        updated_at: new Date(),
      })
      .execute();
    const base = sampleManifest({ name: 'Acme Data Inc.' }) as any;
    const withoutPro = structuredClone(base);
    withoutPro.services[0].plans = withoutPro.services[0].plans.slice(0, 1);
    const refused = await catalog.gql(PUBLISH, { manifest: withoutPro }, catalog.adminToken);
    expect(refused.data.publishManifest).toMatchObject({
      __typename: 'PlanInUse',
      plans: [{ serviceId: 'acme-postgres', planId: 'acme-postgres-pro', liveInstances: 1 }],
    });
    expect(refused.data.publishManifest.message).toMatch(/deprecated: true/);
    // Removing the whole service is refused the same way.
    const withoutService = structuredClone(base);
    withoutService.services = withoutService.services.slice(1);
    const refusedService = await catalog.gql(PUBLISH, { manifest: withoutService }, catalog.adminToken);
    expect(refusedService.data.publishManifest.__typename).toBe('PlanInUse');
    expect((await revisions('acme')).length).toBe(2);

    const deprecated = structuredClone(base);
    deprecated.services[0].plans[1].deprecated = true;
    const ok = await catalog.gql(PUBLISH, { manifest: deprecated }, catalog.adminToken);
    expect(ok.data.publishManifest).toMatchObject({ revision: 3 });
    const listed = await catalog.gql('{ service(slug: "acme-postgres") { plans { slug status deprecated } } }');
    expect(listed.data.service.plans).toEqual([
      { slug: 'hobby', status: 'ACTIVE', deprecated: false },
      { slug: 'pro', status: 'DEPRECATED', deprecated: true },
    ]);

    // Once the instance is gone the plan can be removed (its history keeps the row, hidden).
    await db.updateTable('service_instances').set({ deleted_at: new Date() }).where('id', '=', 'instance-1').execute();
    const removed = await catalog.gql(PUBLISH, { manifest: withoutPro }, catalog.adminToken);
    expect(removed.data.publishManifest).toMatchObject({ revision: 4 });
    const after = await catalog.gql(
      '{ service(slug: "acme-postgres") { plans { slug } } plan(id: "acme-postgres-pro") { slug } }',
    );
    expect(after.data).toEqual({ service: { plans: [{ slug: 'hobby' }] }, plan: null });
    // A removed plan that nothing references is deleted outright.
    const noRedis = structuredClone(withoutPro);
    noRedis.services = noRedis.services.slice(0, 1);
    expect((await catalog.gql(PUBLISH, { manifest: noRedis }, catalog.adminToken)).data.publishManifest).toMatchObject({
      revision: 5,
    });
    expect(await db.selectFrom('plans').select('id').where('osb_id', '=', 'acme-redis-mini').execute()).toEqual([]);
    expect(await db.selectFrom('services').select('id').where('osb_id', '=', 'acme-redis').execute()).toEqual([]);
  });

  it('a provider token of a revoked provider cannot publish', async () => {
    const provider = await catalog.database.db
      .selectFrom('providers')
      .select('id')
      .where('slug', '=', 'solo')
      .executeTakeFirstOrThrow();
    const { token, id } = await createApiToken(catalog.database.db, {
      kind: 'provider',
      name: 'x',
      providerId: provider.id,
    });
    await catalog.gql(`mutation { revokeApiToken(id: "${id}") { __typename } }`, {}, catalog.adminToken);
    const result = await catalog.gql(PUBLISH, { manifest: sampleManifest({ slug: 'solo' }) }, token);
    expect(result.status).toBe(401);
  });
});
