import { type Database, migrateToLatest, openDatabase } from '@annex/platform';
import { createScratchDatabase, serverUrl, testDatabaseKinds } from '@annex/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PUBLISH, sampleManifest, startTestCatalog, type TestCatalog } from './testing.js';

interface Outage {
  name: string;
  database: Database;
  /** Makes the database unusable under the running catalogs. */
  cut(): Promise<void>;
  cleanUp(): Promise<void>;
}

const outages: Array<{ name: string; start(): Promise<Outage> }> = [
  {
    name: 'PGlite, closed',
    async start() {
      const [pglite] = testDatabaseKinds('catalog during a database outage');
      const database = await (pglite as NonNullable<typeof pglite>).open();
      return { name: 'pglite', database, cut: () => database.close(), cleanUp: async () => {} };
    },
  },
];
const url = serverUrl('TEST_DATABASE_URL', 'catalog during a database outage on PostgreSQL');
if (url) {
  outages.push({
    name: 'PostgreSQL, its database dropped (connections terminated, new ones refused)',
    async start() {
      const scratch = await createScratchDatabase(url);
      const database = await openDatabase({ kind: 'postgres', url: scratch.url, poolSize: 4 });
      await migrateToLatest(database.db);
      return {
        name: 'postgres',
        database,
        cut: () => scratch.drop(),
        cleanUp: async () => {
          await database.close();
          await scratch.drop();
        },
      };
    },
  });
}

describe.each(outages)('the catalog while its database is unavailable: $name', (scenario) => {
  let outage: Outage;
  let cached: TestCatalog;
  let uncached: TestCatalog;
  const query = '{ service(slug: "acme-redis") { name plans { slug } } }';
  beforeAll(async () => {
    outage = await scenario.start();
    cached = await startTestCatalog(outage.database, { CATALOG_RESPONSE_CACHE: 'true', CATALOG_CACHE_CHECK_MS: '0' });
    uncached = await startTestCatalog(outage.database);
    await cached.gql(PUBLISH, { manifest: sampleManifest() }, cached.adminToken);
    expect((await cached.gql(query)).data?.service.name).toBe('Acme Redis'); // now in the response cache
    await outage.cut();
  });
  afterAll(async () => {
    await cached?.close();
    await uncached?.close();
    await outage?.cleanUp();
  });

  async function expectUnavailable(response: Response) {
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(response.headers.get('content-type')).toMatch(/^application\/(graphql-response\+)?json/);
    const body = (await response.json()) as { errors: { message: string; extensions: object }[] };
    expect(body.errors).toEqual([
      expect.objectContaining({
        message: 'the catalog cannot reach its database; retry shortly',
        extensions: expect.objectContaining({ code: 'SERVICE_UNAVAILABLE', requestId: expect.any(String) }),
      }),
    ]);
  }

  const post = (catalog: TestCatalog, token?: string) =>
    fetch(`${catalog.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query }),
    });

  it('answers a query with 503, Retry-After and a GraphQL error, on every path', async () => {
    // Cached: the fast path cannot check the catalog's version (or the caller's token).
    await expectUnavailable(await post(cached));
    await expectUnavailable(await post(cached, cached.adminToken));
    await expectUnavailable(
      await fetch(`${cached.url}/graphql?query=${encodeURIComponent(query)}`, {
        headers: { accept: 'application/json' },
      }),
    );
    // Not cached: the resolvers' statements fail, or the caller's token cannot be checked.
    await expectUnavailable(await post(uncached));
    await expectUnavailable(await post(uncached, uncached.adminToken));
    const mutation = await fetch(`${uncached.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${uncached.adminToken}` },
      body: JSON.stringify({ query: PUBLISH, variables: { manifest: sampleManifest() } }),
    });
    await expectUnavailable(mutation);
  });

  it('stays alive and says it is not ready', async () => {
    expect((await fetch(`${uncached.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${uncached.url}/readyz`)).status).toBe(503);
  });
});
