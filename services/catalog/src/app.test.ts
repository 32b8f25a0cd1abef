import { testDatabaseKinds } from '@annex/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PUBLISH, sampleManifest, startTestCatalog, type TestCatalog } from './testing.js';

describe.each(testDatabaseKinds('catalog HTTP'))('catalog HTTP on $name', (kind) => {
  let catalog: TestCatalog;
  let production: TestCatalog;
  beforeAll(async () => {
    catalog = await startTestCatalog(kind, { CATALOG_MAX_DEPTH: '6', CATALOG_MAX_ALIASES: '3' });
    production = await startTestCatalog(kind, { NODE_ENV: 'production' });
  });
  afterAll(async () => {
    await catalog?.close();
    await production?.close();
  });

  it('a bad or revoked bearer token gets 401 naming the problem, not an anonymous answer', async () => {
    const bogus = await catalog.gql('{ categories { id } }', {}, 'annex_admin_thisisnotarealtokenatallreally');
    expect(bogus.status).toBe(401);
    expect(bogus.errors?.[0]?.message).toBe('invalid, expired or revoked API token');
    expect(bogus.data).toBeUndefined();
    const scheme = await fetch(`${catalog.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Basic dXNlcjpwYXNz' },
      body: JSON.stringify({ query: '{ categories { id } }' }),
    });
    expect(scheme.status).toBe(401);
    expect(((await scheme.json()) as any).errors[0].message).toMatch(/Bearer <token>/);
    const created = await catalog.gql(
      'mutation { createApiToken(kind: ADMIN, name: "short-lived") { ... on ApiTokenCreated { id token } } }',
      {},
      catalog.adminToken,
    );
    const { id, token } = created.data.createApiToken;
    expect((await catalog.gql('{ categories { id } }', {}, token)).status).toBe(200);
    const revoked = await catalog.gql(
      'mutation($id: ID!) { revokeApiToken(id: $id) { __typename ... on ApiTokenRevoked { prefix } } }',
      { id },
      catalog.adminToken,
    );
    expect(revoked.data.revokeApiToken.__typename).toBe('ApiTokenRevoked');
    expect((await catalog.gql('{ categories { id } }', {}, token)).status).toBe(401);
  });

  it('rejects queries deeper than the depth limit and with more aliases than allowed', async () => {
    const deep = await catalog.gql(
      '{ services { edges { node { provider { services { plans { service { slug } } } } } } } }',
    );
    expect(deep.data).toBeUndefined();
    expect(deep.errors?.[0]?.message).toMatch(/depth/i);
    const aliases = await catalog.gql(
      '{ a: categories { id } b: categories { id } c: categories { id } d: categories { id } }',
    );
    expect(aliases.data).toBeUndefined();
    expect(aliases.errors?.[0]?.message).toMatch(/aliases/i);
    const fine = await catalog.gql('{ a: categories { id } b: categories { id } }');
    expect(fine.errors).toBeUndefined();
  });

  it('rejects queries over the cost limit', async () => {
    const query = '{ services { edges { node { slug name plans { slug price { monthly } } } } } }';
    // Fine under the default limit; a catalog started with a tiny one rejects it.
    expect((await production.gql(query)).errors).toBeUndefined();
    const strict = await startTestCatalog(kind, { CATALOG_MAX_COST: '10' });
    try {
      const rejected = await strict.gql(query);
      expect(rejected.data).toBeUndefined();
      expect(rejected.errors?.[0]?.message).toMatch(/cost/i);
    } finally {
      await strict.close();
    }
  });

  it('introspection and GraphiQL are on in development and off in production', async () => {
    const query = '{ __schema { queryType { name } } }';
    expect((await catalog.gql(query)).data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    const off = await production.gql(query);
    expect(off.data).toBeUndefined();
    expect(off.errors?.[0]?.message).toMatch(/introspection/i);
    const html = { headers: { accept: 'text/html' } };
    expect((await fetch(`${catalog.url}/graphql`, html)).headers.get('content-type')).toMatch(/text\/html/);
    expect((await fetch(`${production.url}/graphql`, html)).headers.get('content-type') ?? '').not.toMatch(
      /text\/html/,
    );
  });

  it('with introspection off, errors suggest no field, argument, type or enum value names', async () => {
    const mistakes: [string, Record<string, unknown>?][] = [
      ['{ servise(slug: "x") { name } }'],
      ['{ service(slgu: "x") { name } }'],
      ['{ services(filter: { category: DATABASE }) { totalCount } }'],
      ['query($f: ServiceFiltr) { services(filter: $f) { totalCount } }'],
      ['query($f: ServiceFilter) { services(filter: $f) { totalCount } }', { f: { category: 'DATABASE' } }],
      ['query($f: ServiceFilter) { services(filter: $f) { totalCount } }', { f: { serach: 'redis' } }],
    ];
    for (const [query, variables] of mistakes) {
      const development = await catalog.gql(query, variables);
      expect(development.errors?.[0]?.message).toMatch(/Did you mean/);
      const off = await production.gql(query, variables);
      expect(off.data).toBeUndefined();
      expect(off.errors?.[0]?.message).toBe(development.errors?.[0]?.message.replace(/ Did you mean .*\?$/, ''));
      expect(JSON.stringify(off.errors)).not.toMatch(
        /Did you mean|services"|"service"|DATABASES|"search"|ServiceFilter"/,
      );
    }
  });

  it('masks unexpected errors as "Unexpected error" with the request id', async () => {
    // Break the database under a running catalog: the next query fails for a reason the client must not see.
    await production.database.db.schema.alterTable('services').renameTo('services_moved').execute();
    try {
      const response = await fetch(`${production.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'req-test-123' },
        body: JSON.stringify({ query: '{ categories { id serviceCount } }' }),
      });
      const body = (await response.json()) as any;
      expect(body.errors[0].message).toBe('Unexpected error');
      expect(body.errors[0].extensions.requestId).toBe('req-test-123');
      expect(JSON.stringify(body)).not.toMatch(/services|relation|stack/);
    } finally {
      await production.database.db.schema.alterTable('services_moved').renameTo('services').execute();
    }
  });

  it('refuses request bodies over 5 MB before reading them', async () => {
    const response = await fetch(`${catalog.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ categories { id } }', variables: { pad: 'x'.repeat(6 * 1024 * 1024) } }),
    });
    expect(response.status).toBe(413);
  });

  it('serves the manifest JSON Schema, health, readiness and metrics', async () => {
    const schema = await fetch(`${catalog.url}/manifest.schema.json`);
    expect(schema.status).toBe(200);
    const body = (await schema.json()) as any;
    expect(body.properties.services).toBeDefined();
    expect(body.required).toEqual(expect.arrayContaining(['slug', 'name', 'osb', 'services']));
    expect((await fetch(`${catalog.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${catalog.url}/readyz`)).status).toBe(200);
    expect(await (await fetch(`${catalog.url}/metrics`)).text()).toMatch(/http_request_duration_seconds/);
  });

  it('a published manifest is visible through plain HTTP GET queries too', async () => {
    await catalog.gql(PUBLISH, { manifest: sampleManifest() }, catalog.adminToken);
    const response = await fetch(
      `${catalog.url}/graphql?query=${encodeURIComponent('{ service(slug: "acme-redis") { name } }')}`,
      {
        headers: { accept: 'application/json' },
      },
    );
    expect(await response.json()).toEqual({ data: { service: { name: 'Acme Redis' } } });
  });
});
