import {
  type CatalogFixture,
  type FakeProvider,
  seedAppsWithAddons,
  seedCatalog,
  startFakeProvider,
  startTestBroker,
  type TestBroker,
} from '@annex/broker/testing';
import { createApiToken, type Database } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCatalog, type TestCatalog } from './testing.js';

// The provider's portal over GraphQL (docs/provider-portal.md): a provider reads its own
// installations and money through the catalog, which asks the broker with the caller's token;
// admins manage who works for a provider. And the access walk: every field of `Provider`
// that is not the public catalog's, as the schema has it now (whoever added it), is refused
// to another provider's token, an org token and no token, with a typed error, never a silent
// null, and none of the provider's data is in the answer.

/** The fields of `Provider` anyone who sees the provider in the catalog may read. */
const PUBLIC_PROVIDER_FIELDS = [
  'id',
  'slug',
  'name',
  'description',
  'supportEmail',
  'supportUrl',
  'logoUrl',
  'listingState',
  'source',
  'osbAuth',
  'osbUrl',
  'currentRevision',
  'services',
  'createdAt',
  'updatedAt',
];

/** The fields of `Service` anyone who sees the service may read. */
const PUBLIC_SERVICE_FIELDS = [
  'allowContextUpdates',
  'bindable',
  'bindingsRetrievable',
  'category',
  'configVars',
  'createdAt',
  'deprecated',
  'description',
  'documentationUrl',
  'health',
  'id',
  'instancesRetrievable',
  'metadata',
  'name',
  'osbId',
  'planUpdateable',
  'plans',
  'provider',
  'regions',
  'requires',
  'slug',
  'stage',
  'status',
  'tags',
  'updatedAt',
];

/** Arguments for portal fields that require some (none today); a new required one must be added here. */
const REQUIRED_ARGUMENTS: Record<string, string> = {};

interface TypeRef {
  kind: string;
  name: string | null;
  ofType: TypeRef | null;
}
interface IntrospectedField {
  name: string;
  args: { name: string; type: TypeRef }[];
  type: TypeRef;
}
type Types = Map<string, { kind: string; fields: IntrospectedField[] | null }>;

const TYPE_REF = 'kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } }';
const named = (type: TypeRef): TypeRef => (type.ofType ? named(type.ofType) : type);
const required = (type: TypeRef) => type.kind === 'NON_NULL';

/** A selection of `field` reaching its leaves, a few levels deep, skipping fields that need arguments. */
function selection(types: Types, field: IntrospectedField, depth: number): string | null {
  const type = named(field.type);
  const described = types.get(type.name ?? '');
  if (!described || described.kind === 'SCALAR' || described.kind === 'ENUM') return field.name;
  // A result union: which member answered is what a refusal shows.
  if (described.kind === 'UNION') return `${field.name} { __typename ... on Error { message } }`;
  if (depth === 0 || !described.fields) return null;
  const inner = described.fields
    .filter((f) => !f.args.some((a) => required(a.type)))
    .map((f) => selection(types, f, depth - 1))
    .filter((s): s is string => s !== null);
  return inner.length > 0 ? `${field.name} { ${inner.join(' ')} }` : null;
}

describe.each(testDatabaseKinds('provider portal GraphQL'))('provider portal over GraphQL ($name)', (kind) => {
  let database: Database;
  let provider: FakeProvider;
  let broker: TestBroker;
  let catalog: TestCatalog;
  let a: CatalogFixture;
  let b: CatalogFixture;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    database = await kind.open();
    provider = await startFakeProvider({ auth: { kind: 'basic', username: 'u', password: 'p' } });
    broker = await startTestBroker(database);
    const fixture = () =>
      seedCatalog(database.db, broker.secretBox, {
        providerUrl: provider.url,
        auth: { kind: 'basic', username: 'u', password: 'p' },
        plans: [{ slug: 'small' }, { slug: 'large' }],
      });
    a = await fixture();
    b = await fixture();
    const orgOf = async (f: CatalogFixture) =>
      (
        await database.db
          .selectFrom('platform_organizations')
          .select('organization_id')
          .where('platform_id', '=', f.platformId)
          .executeTakeFirstOrThrow()
      ).organization_id;
    const orgA = await orgOf(a);
    await seedAppsWithAddons(database.db, broker.secretBox, {
      fixture: a,
      plan: 'small',
      organizationId: orgA,
      prefix: 'alpha-web',
      apps: 3,
      addonsPerApp: 1,
    });
    await seedAppsWithAddons(database.db, broker.secretBox, {
      fixture: b,
      plan: 'small',
      organizationId: await orgOf(b),
      prefix: 'beta-web',
      apps: 1,
      addonsPerApp: 1,
    });
    // Listed publicly, as publishing would mark them: anonymous callers see both providers.
    await database.db.updateTable('services').set({ has_public_plans: true }).execute();
    catalog = await startTestCatalog(database, { CATALOG_BROKER_URL: broker.url });
    const providerToken = async (providerId: string, scopes?: string[]) =>
      (await createApiToken(database.db, { kind: 'provider', name: 'p', providerId, ...(scopes ? { scopes } : {}) }))
        .token;
    tokens.a = await providerToken(a.providerId, ['provider:read']);
    tokens.b = await providerToken(b.providerId);
    tokens.publishOnly = await providerToken(a.providerId, ['catalog:publish']);
    tokens.org = (await createApiToken(database.db, { kind: 'org', name: 'o', organizationId: orgA })).token;
    tokens.admin = catalog.adminToken;
  }, 60_000);
  afterAll(async () => {
    await catalog?.close();
    await broker?.close();
    await provider?.close();
    await database?.close();
  });

  it("pages a provider's installations as a Relay connection, filtered, with its money", async () => {
    const query = /* GraphQL */ `
      query($slug: String!, $after: String) {
        provider(slug: $slug) {
          installations(first: 2, after: $after) {
            totalCount
            edges { cursor node { name plan state region organization { name apps } lastError } }
            pageInfo { hasNextPage hasPreviousPage endCursor }
          }
          activeInstallations(days: 2) { day active }
          revenue { mode revenueShare months { period grossCents } }
          payouts { id }
        }
      }`;
    const first = await catalog.gql(query, { slug: a.providerSlug }, tokens.a);
    expect(first.errors).toBeUndefined();
    const p = first.data.provider;
    expect(p.installations.totalCount).toBe(3);
    expect(p.installations.edges).toHaveLength(2);
    expect(p.installations.edges[0].node).toEqual({
      name: 'alpha-web-2-db0',
      plan: 'small',
      state: 'PROVISIONED',
      region: null,
      organization: { name: 'Acme', apps: 3 },
      lastError: null,
    });
    expect(p.installations.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    expect(p.activeInstallations.at(-1).active).toBe(3);
    expect(p.revenue).toEqual({ mode: 'ledger-only', revenueShare: 0.8, months: [] });
    expect(p.payouts).toEqual([]);
    const second = await catalog.gql(
      query,
      { slug: a.providerSlug, after: p.installations.pageInfo.endCursor },
      tokens.a,
    );
    expect(second.data.provider.installations.edges.map((e: any) => e.node.name)).toEqual(['alpha-web-0-db0']);
    expect(second.data.provider.installations.pageInfo.hasNextPage).toBe(false);
    // Any edge's cursor continues after it.
    const fromFirstEdge = await catalog.gql(
      query,
      { slug: a.providerSlug, after: p.installations.edges[0].cursor },
      tokens.a,
    );
    expect(fromFirstEdge.data.provider.installations.edges.map((e: any) => e.node.name)).toEqual([
      'alpha-web-1-db0',
      'alpha-web-0-db0',
    ]);
    const filtered = await catalog.gql(
      `query($slug: String!) { provider(slug: $slug) { installations(plan: "large") { totalCount } failed: installations(state: FAILED) { totalCount } } }`,
      { slug: a.providerSlug },
      tokens.a,
    );
    expect(filtered.data.provider).toEqual({ installations: { totalCount: 0 }, failed: { totalCount: 0 } });
    const badCursor = await catalog.gql(
      `query($slug: String!) { provider(slug: $slug) { installations(after: "nope") { totalCount } } }`,
      { slug: a.providerSlug },
      tokens.a,
    );
    expect(badCursor.errors?.[0]).toMatchObject({
      message: expect.stringContaining('after: not a cursor'),
      extensions: { code: 'BAD_USER_INPUT' },
    });
  });

  it('refuses a provider token without provider:read, naming the scope', async () => {
    const answer = await catalog.gql(
      `query($slug: String!) { provider(slug: $slug) { slug installations { totalCount } } }`,
      { slug: a.providerSlug },
      tokens.publishOnly,
    );
    expect(answer.data.provider).toEqual({ slug: a.providerSlug, installations: null });
    expect(answer.errors?.[0]).toMatchObject({
      message: expect.stringContaining('provider:read'),
      extensions: { code: 'FORBIDDEN' },
    });
  });

  it("walks every non-public field of Provider: another provider's token, an org token and none are refused", async () => {
    const schema = await catalog.gql(
      `{ __schema { types { name kind fields { name args { name type { ${TYPE_REF} } } type { ${TYPE_REF} } } } } }`,
    );
    const types: Types = new Map(
      (schema.data.__schema.types as { name: string; kind: string; fields: IntrospectedField[] | null }[]).map((t) => [
        t.name,
        t,
      ]),
    );
    const fields = (types.get('Provider')?.fields ?? []).filter((f) => !PUBLIC_PROVIDER_FIELDS.includes(f.name));
    expect(fields.map((f) => f.name)).toEqual(
      expect.arrayContaining(['installations', 'activeInstallations', 'revenue', 'payouts', 'members']),
    );
    const slug = a.providerSlug;
    for (const field of fields) {
      const missing = field.args.filter(
        (arg) => required(arg.type) && !REQUIRED_ARGUMENTS[`${field.name}.${arg.name}`],
      );
      expect(
        missing.map((arg) => arg.name),
        `give REQUIRED_ARGUMENTS for Provider.${field.name}`,
      ).toEqual([]);
      const args = field.args
        .filter((arg) => REQUIRED_ARGUMENTS[`${field.name}.${arg.name}`])
        .map((arg) => `${arg.name}: ${REQUIRED_ARGUMENTS[`${field.name}.${arg.name}`]}`);
      const selected = selection(types, field, 4);
      expect(selected, `Provider.${field.name} has a selection`).not.toBeNull();
      const withArgs =
        args.length > 0 ? (selected as string).replace(field.name, `${field.name}(${args.join(', ')})`) : selected;
      const document = `query($slug: String!) { provider(slug: $slug) { slug ${withArgs} } }`;

      // An admin reads it (so a refusal below is the field's check, not a broken query).
      const admin = await catalog.gql(document, { slug }, tokens.admin);
      expect(admin.errors, `Provider.${field.name} as admin`).toBeUndefined();

      for (const who of ['b', 'org', 'anonymous'] as const) {
        const answer = await catalog.gql(document, { slug }, tokens[who]);
        const what = `Provider.${field.name} with ${who === 'anonymous' ? 'no' : who === 'b' ? "another provider's" : 'an org'} token`;
        expect(answer.data?.provider?.slug, what).toBe(slug);
        expect(answer.data?.provider?.[field.name], what).toBeNull();
        const error = answer.errors?.find((e: any) => e.path?.[1] === field.name);
        expect(error?.extensions?.code, what).toMatch(/^(UNAUTHENTICATED|FORBIDDEN)$/);
        expect(JSON.stringify(answer), what).not.toContain('alpha-web');
      }
    }
  });

  it("walks every non-public field of a provider's Service the same way: refused, as a typed result member", async () => {
    const schema = await catalog.gql(
      `{ __schema { types { name kind fields { name args { name type { ${TYPE_REF} } } type { ${TYPE_REF} } } } } }`,
    );
    const types: Types = new Map(
      (schema.data.__schema.types as { name: string; kind: string; fields: IntrospectedField[] | null }[]).map((t) => [
        t.name,
        t,
      ]),
    );
    const fields = (types.get('Service')?.fields ?? []).filter((f) => !PUBLIC_SERVICE_FIELDS.includes(f.name));
    for (const field of fields) {
      expect(
        field.args.filter((arg) => required(arg.type)).map((arg) => arg.name),
        `Service.${field.name}`,
      ).toEqual([]);
      const selected = selection(types, field, 4);
      const document = `query($slug: String!) { provider(slug: $slug) { services { slug ${selected} } } }`;
      const refusedIn = (answer: any) => {
        const value = answer.data?.provider?.services?.[0]?.[field.name];
        const error = answer.errors?.find((e: any) => e.path?.includes(field.name));
        return value?.__typename ?? error?.extensions?.code ?? (value === null ? 'null without an error' : 'answered');
      };
      const admin = await catalog.gql(document, { slug: a.providerSlug }, tokens.admin);
      expect(admin.errors, `Service.${field.name} as admin`).toBeUndefined();
      expect(refusedIn(admin), `Service.${field.name} as admin`).not.toMatch(/^(NotAuthorized|Forbidden)$/);
      for (const who of ['b', 'org', 'anonymous'] as const) {
        const answer = await catalog.gql(document, { slug: a.providerSlug }, tokens[who]);
        expect(answer.data?.provider?.services?.length, `Service.${field.name} with ${who}`).toBeGreaterThan(0);
        expect(refusedIn(answer), `Service.${field.name} with ${who}`).toMatch(
          /^(NotAuthorized|Forbidden|UNAUTHENTICATED|FORBIDDEN)$/,
        );
      }
    }
  });

  it('lets admins add and remove provider members; a removed member loses the session token at once', async () => {
    const user = await database.db
      .insertInto('users')
      .values({ oidc_issuer: 'https://id.example', oidc_subject: 'ann', email: 'ann@example.com', name: 'Ann' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const add = /* GraphQL */ `
      mutation($p: String!, $e: String!, $r: ProviderMemberRole) {
        addProviderMember(provider: $p, email: $e, role: $r) {
          __typename
          ... on Error { message }
          ... on AddProviderMemberSuccess { data { email role grantedBy } }
        }
      }`;
    const added = await catalog.gql(add, { p: a.providerSlug, e: 'ANN@example.com', r: 'admin' }, tokens.admin);
    expect(added.data.addProviderMember).toEqual({
      __typename: 'AddProviderMemberSuccess',
      data: [{ email: 'ann@example.com', role: 'admin', grantedBy: 'admin' }],
    });
    expect(
      (await catalog.gql(add, { p: a.providerSlug, e: 'ann@example.com' }, tokens.a)).data.addProviderMember,
    ).toMatchObject({ __typename: 'NotAuthorized' });
    expect(
      (await catalog.gql(add, { p: a.providerSlug, e: 'nobody@example.com' }, tokens.admin)).data.addProviderMember,
    ).toMatchObject({ __typename: 'InvalidInput', message: expect.stringContaining('nobody has signed in') });
    expect(
      (await catalog.gql(add, { p: 'no-such', e: 'ann@example.com' }, tokens.admin)).data.addProviderMember,
    ).toMatchObject({ __typename: 'NotFound' });

    // A console session of hers holds a provider token; removing her revokes it.
    const session = await createApiToken(database.db, {
      kind: 'provider',
      name: 'console session of ann',
      providerId: a.providerId,
      scopes: ['provider:read'],
      userId: user.id,
    });
    const readWith = (token: string) =>
      catalog.gql(
        `query($s: String!) { provider(slug: $s) { installations { totalCount } } }`,
        { s: a.providerSlug },
        token,
      );
    expect((await readWith(session.token)).data.provider.installations.totalCount).toBe(3);
    const removed = await catalog.gql(
      `mutation($p: String!, $e: String!) { removeProviderMember(provider: $p, email: $e) { __typename ... on RemoveProviderMemberSuccess { data { email } } ... on Error { message } } }`,
      { p: a.providerSlug, e: 'ann@example.com' },
      tokens.admin,
    );
    expect(removed.data.removeProviderMember).toEqual({ __typename: 'RemoveProviderMemberSuccess', data: [] });
    expect((await readWith(session.token)).data?.provider ?? null).toBeNull();
    const again = await catalog.gql(
      `mutation($p: String!, $e: String!) { removeProviderMember(provider: $p, email: $e) { __typename } }`,
      { p: a.providerSlug, e: 'ann@example.com' },
      tokens.admin,
    );
    expect(again.data.removeProviderMember.__typename).toBe('NotFound');
    const members = await catalog.gql(
      `query($s: String!) { provider(slug: $s) { members { email } } }`,
      { s: a.providerSlug },
      tokens.admin,
    );
    expect(members.data.provider.members).toEqual([]);
  });
});
