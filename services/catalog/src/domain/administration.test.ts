import { authenticateToken, hashToken, verifyPassword } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCatalog, type TestCatalog } from '../testing.js';

describe.each(testDatabaseKinds('catalog administration'))('administration on $name', (kind) => {
  let catalog: TestCatalog;
  beforeAll(async () => {
    catalog = await startTestCatalog(kind);
  });
  afterAll(async () => catalog?.close());

  const ORG =
    'mutation($slug: String!, $name: String!) { createOrganization(slug: $slug, name: $name) { __typename ... on Organization { slug name } ... on Error { message } ... on InvalidInput { problems { path } } } }';

  it('creates organizations; bad and duplicate slugs are typed errors', async () => {
    const created = await catalog.gql(ORG, { slug: 'globex', name: 'Globex' }, catalog.adminToken);
    expect(created.data.createOrganization).toEqual({ __typename: 'Organization', slug: 'globex', name: 'Globex' });
    const again = await catalog.gql(ORG, { slug: 'globex', name: 'Globex 2' }, catalog.adminToken);
    expect(again.data.createOrganization).toMatchObject({ __typename: 'SlugTaken' });
    const bad = await catalog.gql(ORG, { slug: 'Not A Slug', name: '' }, catalog.adminToken);
    expect(bad.data.createOrganization).toMatchObject({
      __typename: 'InvalidInput',
      problems: [{ path: 'slug' }, { path: 'name' }],
    });
  });

  it('creates a platform whose OSB password is returned once and stored only as a scrypt hash', async () => {
    const result = await catalog.gql(
      `mutation { createPlatform(slug: "cf-prod", name: "CF production", organizations: ["globex"]) {
         __typename ... on PlatformCreated { slug organizations osbUsername osbPassword } ... on Error { message } } }`,
      {},
      catalog.adminToken,
    );
    const platform = result.data.createPlatform;
    expect(platform).toMatchObject({ __typename: 'PlatformCreated', slug: 'cf-prod', organizations: ['globex'] });
    expect(platform.osbPassword.length).toBeGreaterThanOrEqual(24);
    const row = await catalog.database.db
      .selectFrom('platforms')
      .select(['osb_username', 'osb_password_hash'])
      .where('slug', '=', 'cf-prod')
      .executeTakeFirstOrThrow();
    expect(row.osb_username).toBe(platform.osbUsername);
    expect(row.osb_password_hash).not.toContain(platform.osbPassword);
    expect(await verifyPassword(platform.osbPassword, row.osb_password_hash)).toBe(true);
    const unknownOrg = await catalog.gql(
      'mutation { createPlatform(slug: "cf-2", name: "CF 2", organizations: ["nobody"]) { __typename ... on Error { message } } }',
      {},
      catalog.adminToken,
    );
    expect(unknownOrg.data.createPlatform).toEqual({
      __typename: 'InvalidInput',
      message: 'organizations: no organization "nobody"',
    });
    expect(
      await catalog.database.db.selectFrom('platforms').select('slug').where('slug', '=', 'cf-2').execute(),
    ).toEqual([]);
  });

  it('creates providers and API tokens, shown once and stored hashed; tokens work until revoked', async () => {
    const provider = await catalog.gql(
      'mutation { createProvider(slug: "newco", name: "NewCo") { __typename ... on ProviderCreated { token provider { slug } } } }',
      {},
      catalog.adminToken,
    );
    expect(provider.data.createProvider.provider).toEqual({ slug: 'newco' });
    const providerToken = provider.data.createProvider.token as string;
    expect(await authenticateToken(catalog.database.db, providerToken)).toMatchObject({ kind: 'provider' });

    const token = await catalog.gql(
      `mutation { createApiToken(kind: ORG, name: "globex ci", organization: "globex", scopes: ["config:read"]) {
        __typename ... on ApiTokenCreated { id token prefix kind } } }`,
      {},
      catalog.adminToken,
    );
    const created = token.data.createApiToken;
    expect(created).toMatchObject({ __typename: 'ApiTokenCreated', kind: 'ORG' });
    expect(created.token.startsWith(created.prefix)).toBe(true);
    const row = await catalog.database.db
      .selectFrom('api_tokens')
      .select(['token_hash', 'scopes'])
      .where('id', '=', created.id)
      .executeTakeFirstOrThrow();
    expect(row.token_hash).toBe(hashToken(created.token));
    expect(row.scopes).toEqual(['config:read']);
    expect(await authenticateToken(catalog.database.db, created.token)).toMatchObject({
      kind: 'org',
      organization: 'globex',
    });

    const mismatched = await catalog.gql(
      'mutation { createApiToken(kind: PLATFORM, name: "x", organization: "globex") { __typename ... on InvalidInput { problems { path message } } } }',
      {},
      catalog.adminToken,
    );
    expect(mismatched.data.createApiToken.problems).toEqual([
      { path: 'organization', message: 'a platform token takes none' },
      { path: 'platform', message: 'a platform token needs one' },
    ]);
    const missing = await catalog.gql(
      'mutation { createApiToken(kind: PROVIDER, name: "x", provider: "ghost") { __typename ... on Error { message } } }',
      {},
      catalog.adminToken,
    );
    expect(missing.data.createApiToken).toEqual({ __typename: 'NotFound', message: 'no provider "ghost"' });

    const revoke = await catalog.gql(
      'mutation($id: ID!) { revokeApiToken(id: $id) { __typename } }',
      { id: created.id },
      catalog.adminToken,
    );
    expect(revoke.data.revokeApiToken.__typename).toBe('ApiTokenRevoked');
    expect(await authenticateToken(catalog.database.db, created.token)).toBeNull();
    const unknown = await catalog.gql('mutation { revokeApiToken(id: "nope") { __typename } }', {}, catalog.adminToken);
    expect(unknown.data.revokeApiToken.__typename).toBe('NotFound');
  });

  it('non-admin callers get NotAuthorized from every admin mutation and nothing changes', async () => {
    const orgToken = (
      await catalog.gql(
        'mutation { createApiToken(kind: ORG, name: "o", organization: "globex") { ... on ApiTokenCreated { token } } }',
        {},
        catalog.adminToken,
      )
    ).data.createApiToken.token;
    const mutations = [
      'createOrganization(slug: "evil", name: "Evil")',
      'createPlatform(slug: "evil", name: "Evil", organizations: [])',
      'createProvider(slug: "evil", name: "Evil")',
      'createApiToken(kind: ADMIN, name: "evil")',
      'revokeApiToken(id: "00000000-0000-0000-0000-000000000000")',
    ];
    const db = catalog.database.db;
    const countTokens = async () => (await db.selectFrom('api_tokens').select('id').execute()).length;
    const tokensBefore = await countTokens();
    for (const token of [undefined, orgToken]) {
      for (const mutation of mutations) {
        const result = await catalog.gql(
          `mutation { m: ${mutation} { __typename ... on Error { message } } }`,
          {},
          token,
        );
        expect(result.data.m).toEqual({ __typename: 'NotAuthorized', message: 'this operation needs an admin token' });
      }
    }
    expect(await countTokens()).toBe(tokensBefore);
    for (const table of ['organizations', 'platforms', 'providers'] as const) {
      expect(await db.selectFrom(table).select('slug').where('slug', '=', 'evil').execute()).toEqual([]);
    }
  });
});
