import { createApiToken } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import type { ProviderManifestInput } from '@annex/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishManifest } from '../domain/publishing.js';
import { startTestCatalog, type TestCatalog } from '../testing.js';

const ADMIN = { kind: 'admin', tokenId: 'seed', scopes: [] } as const;

/** `count` services named "Service 00".."Service NN" in rotating categories, two plans each. */
function bulkManifest(slug: string, count: number): ProviderManifestInput {
  const categories = ['databases', 'caches', 'queues'] as const;
  return {
    slug,
    name: `Bulk ${slug}`,
    osb: { url: `https://${slug}.example` },
    services: Array.from({ length: count }, (_, i) => {
      const n = String(i).padStart(2, '0');
      return {
        id: `${slug}-svc-${n}`,
        slug: `${slug}-svc-${n}`,
        name: `Service ${n}`,
        description: `Bulk service number ${n}`,
        category: categories[i % 3] as (typeof categories)[number],
        tags: i % 2 === 0 ? ['even'] : ['odd'],
        bindable: true,
        regions: i % 4 === 0 ? ['eu-west'] : ['us-east'],
        plans: [
          { id: `${slug}-svc-${n}-free`, slug: 'free', description: 'Free', free: i % 5 === 0 },
          ...(i % 5 === 0
            ? []
            : [{ id: `${slug}-svc-${n}-paid`, slug: 'paid', description: 'Paid', price: { monthly: 100 * i } }]),
        ].map((p) => (p.free === false ? { ...p, price: { monthly: 50 } } : p)),
      };
    }),
  };
}

describe.each(testDatabaseKinds('catalog queries'))('queries on $name', (kind) => {
  let catalog: TestCatalog;
  let orgToken: string;
  let otherOrgToken: string;
  let platformToken: string;

  beforeAll(async () => {
    catalog = await startTestCatalog(kind);
    const db = catalog.database.db;
    const seeded = await publishManifest(db, ADMIN, bulkManifest('bulk', 60));
    expect(seeded.ok).toBe(true);
    const search = await publishManifest(db, ADMIN, {
      slug: 'searchable',
      name: 'Searchable',
      osb: { url: 'https://searchable.example' },
      services: [
        {
          id: 'pg-1',
          slug: 'postgres-plus',
          name: 'PostgreSQL Plus',
          description: 'Relational database with point in time recovery',
          category: 'databases',
          tags: ['sql'],
          bindable: true,
          plans: [{ id: 'pg-1-free', slug: 'free', description: 'Free' }],
        },
        {
          id: 'kv-1',
          slug: 'fast-kv',
          name: 'Fast KV',
          description: 'A key value store that speaks the postgres wire protocol',
          category: 'caches',
          tags: ['kv'],
          bindable: true,
          plans: [{ id: 'kv-1-free', slug: 'free', description: 'Free' }],
        },
        {
          id: 'secret-1',
          slug: 'secret-llm',
          name: 'Secret LLM',
          description: 'A private model for one customer',
          category: 'ai-models',
          tags: ['llm'],
          bindable: true,
          plans: [
            {
              id: 'secret-1-private',
              slug: 'private',
              description: 'Private',
              visibility: 'private',
              allowedOrganizations: ['acme-corp'],
              price: { monthly: 100000, metered: [{ unit: '1k_tokens', price: 0.2 }] },
            },
          ],
        },
        {
          id: 'mixed-1',
          slug: 'mixed-search',
          name: 'Mixed Search',
          description: 'Search engine',
          category: 'search',
          bindable: true,
          plans: [
            { id: 'mixed-1-public', slug: 'public', description: 'Public' },
            {
              id: 'mixed-1-private',
              slug: 'enterprise',
              description: 'Enterprise',
              visibility: 'private',
              allowedOrganizations: ['acme-corp', 'globex'],
              price: { monthly: 90000 },
            },
          ],
        },
      ],
    });
    expect(search.ok).toBe(true);
    const acme = await db
      .insertInto('organizations')
      .values({ slug: 'acme-corp', name: 'Acme' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const initech = await db
      .insertInto('organizations')
      .values({ slug: 'initech', name: 'Initech' })
      .returning('id')
      .executeTakeFirstOrThrow();
    orgToken = (await createApiToken(db, { kind: 'org', name: 'acme', organizationId: acme.id })).token;
    otherOrgToken = (await createApiToken(db, { kind: 'org', name: 'initech', organizationId: initech.id })).token;
    const platform = await db
      .insertInto('platforms')
      .values({ slug: 'p1', name: 'P1', osb_username: 'p1', osb_password_hash: 'x' })
      .returning('id')
      .executeTakeFirstOrThrow();
    await db
      .insertInto('platform_organizations')
      .values({ platform_id: platform.id, organization_id: acme.id })
      .execute();
    platformToken = (await createApiToken(db, { kind: 'platform', name: 'p1', platformId: platform.id })).token;
  });
  afterAll(async () => catalog?.close());

  const slugs = (data: any) => data.services.edges.map((e: any) => e.node.slug);

  it('private plans are visible only to allowed organizations (and admins); all-private services hide', async () => {
    const query = `{
      secret: service(slug: "secret-llm") { slug plans { slug price { monthly metered { unit price } } } }
      mixed: service(slug: "mixed-search") { plans { slug visibility allowedOrganizations } }
      byOsb: plan(id: "secret-1-private") { slug }
      ai: services(filter: { category: AI_MODELS }) { edges { node { slug } } }
      categories { id serviceCount }
      provider(slug: "searchable") { services { slug } }
    }`;
    const anonymous = (await catalog.gql(query)).data;
    expect(anonymous.secret).toBeNull();
    expect(anonymous.byOsb).toBeNull();
    expect(anonymous.mixed.plans).toEqual([{ slug: 'public', visibility: 'PUBLIC', allowedOrganizations: null }]);
    expect(slugs({ services: anonymous.ai })).toEqual([]);
    expect(anonymous.categories.find((c: any) => c.id === 'AI_MODELS').serviceCount).toBe(0);
    expect(anonymous.provider.services.map((s: any) => s.slug)).toEqual(['postgres-plus', 'fast-kv', 'mixed-search']);

    const other = (await catalog.gql(query, {}, otherOrgToken)).data;
    expect(other.secret).toBeNull();
    expect(other.mixed.plans).toHaveLength(1);

    for (const token of [orgToken, platformToken]) {
      const allowed = (await catalog.gql(query, {}, token)).data;
      expect(allowed.secret).toEqual({
        slug: 'secret-llm',
        plans: [{ slug: 'private', price: { monthly: 100000, metered: [{ unit: '1k_tokens', price: 0.2 }] } }],
      });
      expect(allowed.byOsb).toEqual({ slug: 'private' });
      expect(allowed.mixed.plans.map((p: any) => p.slug)).toEqual(['public', 'enterprise']);
      expect(slugs({ services: allowed.ai })).toEqual(['secret-llm']);
      expect(allowed.categories.find((c: any) => c.id === 'AI_MODELS').serviceCount).toBe(1);
    }
    // A provider sees its own private plans; another provider does not.
    const db = catalog.database.db;
    const providerToken = async (slug: string) => {
      const provider = await db.selectFrom('providers').select('id').where('slug', '=', slug).executeTakeFirstOrThrow();
      return (await createApiToken(db, { kind: 'provider', name: slug, providerId: provider.id })).token;
    };
    const own = (await catalog.gql(query, {}, await providerToken('searchable'))).data;
    expect(own.secret?.slug).toBe('secret-llm');
    expect(own.mixed.plans).toHaveLength(2);
    const foreign = (await catalog.gql(query, {}, await providerToken('bulk'))).data;
    expect(foreign.secret).toBeNull();
    const admin = (await catalog.gql(query, {}, catalog.adminToken)).data;
    expect(admin.mixed.plans[1]).toEqual({
      slug: 'enterprise',
      visibility: 'PRIVATE',
      allowedOrganizations: ['acme-corp', 'globex'],
    });
  });

  it('paginates with stable cursors: every service exactly once, in name order', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page++) {
      const result: any = await catalog.gql(
        `query($after: String) { services(first: 7, after: $after, filter: { provider: "bulk" }) {
           edges { cursor node { name } } pageInfo { hasNextPage endCursor hasPreviousPage } } }`,
        { after },
      );
      const connection = result.data.services;
      seen.push(...connection.edges.map((e: any) => e.node.name));
      expect(connection.pageInfo.hasPreviousPage).toBe(after !== null);
      if (!connection.pageInfo.hasNextPage) break;
      after = connection.pageInfo.endCursor;
    }
    expect(seen).toEqual(Array.from({ length: 60 }, (_, i) => `Service ${String(i).padStart(2, '0')}`));
    const bad = await catalog.gql('{ services(after: "nonsense") { edges { cursor } } }');
    expect(bad.errors?.[0]?.message).toMatch(/after: not a cursor/);
    const tooMany = await catalog.gql('{ services(first: 1000) { edges { cursor } } }');
    expect(tooMany.errors?.[0]?.message).toMatch(/first: must be between 1 and 100/);
  });

  it('filters by category, tags, region, free plans and provider', async () => {
    const run = async (filter: string) =>
      slugs((await catalog.gql(`{ services(first: 100, filter: ${filter}) { edges { node { slug } } } }`)).data);
    const caches = await run('{ category: CACHES, provider: "bulk" }');
    expect(caches).toHaveLength(20);
    const evenEu = await run('{ tags: ["even"], region: "eu-west", provider: "bulk" }');
    // i % 4 === 0 → eu-west (and even): 0, 4, ..., 56.
    expect(evenEu).toHaveLength(15);
    const free = await run('{ freeOnly: true, provider: "bulk" }');
    expect(free).toEqual([
      'bulk-svc-00',
      'bulk-svc-05',
      'bulk-svc-10',
      'bulk-svc-15',
      'bulk-svc-20',
      'bulk-svc-25',
      'bulk-svc-30',
      'bulk-svc-35',
      'bulk-svc-40',
      'bulk-svc-45',
      'bulk-svc-50',
      'bulk-svc-55',
    ]);
    expect(await run('{ provider: "nobody" }')).toEqual([]);
    const counted = await catalog.gql(
      '{ services(first: 5, filter: { category: CACHES, provider: "bulk" }) { totalCount edges { cursor } } }',
    );
    expect(counted.data.services.totalCount).toBe(20);
    expect(counted.data.services.edges).toHaveLength(5);
    const searched = await catalog.gql('{ services(first: 1, filter: { search: "postg" }) { totalCount } }');
    expect(searched.data.services.totalCount).toBe(2);
  });

  it('searches name, description and tags, best match first, with prefix matching and sanitised input', async () => {
    const search = async (text: string, token?: string) =>
      slugs(
        (
          await catalog.gql(
            'query($s: String) { services(filter: { search: $s }) { edges { node { slug } } } }',
            { s: text },
            token,
          )
        ).data,
      );
    // "postg" finds both; the one named PostgreSQL ranks above the one that mentions postgres.
    expect(await search('postg')).toEqual(['postgres-plus', 'fast-kv']);
    expect(await search('postgres')).toEqual(['postgres-plus', 'fast-kv']);
    expect(await search('relational recov')).toEqual(['postgres-plus']);
    expect(await search('kv')).toEqual(['fast-kv']);
    expect(await search("llm')) | !*")).toEqual([]);
    expect(await search('llm', orgToken)).toEqual(['secret-llm']);
    expect(await search('&|!():*')).toEqual([]);
    // Search pages too: one result per page, no repeats.
    const first = await catalog.gql(
      '{ services(first: 1, filter: { search: "postg" }) { edges { node { slug } } pageInfo { endCursor hasNextPage } } }',
    );
    const second = await catalog.gql(
      'query($a: String) { services(first: 1, after: $a, filter: { search: "postg" }) { edges { node { slug } } pageInfo { hasNextPage } } }',
      { a: first.data.services.pageInfo.endCursor },
    );
    expect([...slugs(first.data), ...slugs(second.data)]).toEqual(['postgres-plus', 'fast-kv']);
    expect(second.data.services.pageInfo.hasNextPage).toBe(false);
  });

  it('lists providers and every category with counts of visible services', async () => {
    const { data } = await catalog.gql('{ providers { slug } categories { id slug serviceCount } }');
    expect(data.providers.map((p: any) => p.slug)).toEqual(['bulk', 'searchable']);
    expect(data.categories).toEqual([
      { id: 'DATABASES', slug: 'databases', serviceCount: 21 },
      { id: 'CACHES', slug: 'caches', serviceCount: 21 },
      { id: 'AI_MODELS', slug: 'ai-models', serviceCount: 0 },
      { id: 'SEARCH', slug: 'search', serviceCount: 1 },
      { id: 'LOGGING', slug: 'logging', serviceCount: 0 },
      { id: 'MONITORING', slug: 'monitoring', serviceCount: 0 },
      { id: 'EMAIL', slug: 'email', serviceCount: 0 },
      { id: 'QUEUES', slug: 'queues', serviceCount: 20 },
      { id: 'OTHER', slug: 'other', serviceCount: 0 },
    ]);
  });

  it('the number of SQL statements per request does not grow with the page size', async () => {
    const query = `query($first: Int) { services(first: $first, filter: { provider: "bulk" }) { edges { node {
      slug provider { slug services { slug } }
      plans { slug bindable planUpdateable price { monthly } service { slug provider { name } } }
    } } } }`;
    const count = async (first: number) => {
      const before = catalog.statements.count;
      const result = await catalog.gql(query, { first }, orgToken);
      expect(result.errors).toBeUndefined();
      expect(result.data.services.edges).toHaveLength(first);
      return catalog.statements.count - before;
    };
    await count(5); // warm the token's last_used_at write
    const small = await count(5);
    const large = await count(50);
    expect(large).toBe(small);
    // auth, page, plans, providers, provider services; nothing per row.
    expect(small).toBeLessThanOrEqual(6);
  });

  it("reads a listing's providers and plans in the page's own statement", async () => {
    const count = async (fields: string) => {
      const before = catalog.statements.count;
      const result = await catalog.gql(
        `{ services(first: 20, filter: { provider: "bulk" }) { edges { node { slug ${fields} } } } }`,
        {},
        orgToken,
      );
      expect(result.errors).toBeUndefined();
      expect(result.data.services.edges).toHaveLength(20);
      return { statements: catalog.statements.count - before, edges: result.data.services.edges };
    };
    await count(''); // warm the token's last_used_at write
    const bare = await count('');
    const full = await count('provider { slug name } plans { slug free price { monthly currency } }');
    expect(full.statements).toBe(bare.statements);
    for (const { node } of full.edges) {
      expect(node.provider.slug).toBe('bulk');
      expect(node.plans.length).toBeGreaterThan(0);
    }
  });

  it('node() resolves global ids of providers, services and plans; unknown or hidden ids are null', async () => {
    const { data } = await catalog.gql('{ service(slug: "postgres-plus") { id provider { id } plans { id } } }');
    const ids = [data.service.id, data.service.provider.id, data.service.plans[0].id];
    const nodes = await catalog.gql(
      `{ a: node(id: "${Buffer.from('Service:00000000-0000-0000-0000-000000000000').toString('base64')}") { id }
         b: node(id: "${Buffer.from('Service:nope').toString('base64')}") { id } }`,
    );
    expect(nodes.errors).toBeUndefined();
    expect(nodes.data).toEqual({ a: null, b: null });
    const garbage = await catalog.gql('{ node(id: "garbage") { id } }');
    expect(garbage.data?.node ?? null).toBeNull();
    expect(garbage.errors?.[0]?.message).not.toMatch(/Unexpected error/);
    const resolved = await catalog.gql(
      `query($s: ID!, $p: ID!, $pl: ID!) { s: node(id: $s) { __typename } p: node(id: $p) { __typename } pl: node(id: $pl) { __typename ... on Plan { slug } } }`,
      { s: ids[0], p: ids[1], pl: ids[2] },
    );
    expect(resolved.data).toEqual({
      s: { __typename: 'Service' },
      p: { __typename: 'Provider' },
      pl: { __typename: 'Plan', slug: 'free' },
    });
    const secret = await catalog.gql('{ service(slug: "secret-llm") { id } }', {}, orgToken);
    const hidden = await catalog.gql('query($id: ID!) { node(id: $id) { id } }', { id: secret.data.service.id });
    expect(hidden.data.node).toBeNull();
  });
});
