import type { AddressInfo } from 'node:net';
import { ANONYMOUS, type Principal } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import express, { type Request, type Response } from 'express';
import { createSchema, createYoga } from 'graphql-yoga';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestCatalog, type TestCatalog } from '../testing.js';
import type { CatalogContext } from './builder.js';
import { createResponseCache, limitCacheAge } from './response-cache.js';

// A stand-in schema whose resolvers count their calls, behind the same middleware chain
// as the catalog's, so the test sees what was answered from the cache.
const servers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of servers.splice(0)) await close();
});

async function setup(checkIntervalMs = 0) {
  let version = 'v1';
  let executions = 0;
  let data = 'first';
  const cache = createResponseCache({ version: async () => version, checkIntervalMs, maxEntries: 2 });
  const yoga = createYoga<{ req: Request; res: Response }, CatalogContext>({
    schema: createSchema<{ req: Request; res: Response } & CatalogContext>({
      typeDefs:
        'type Query { value(key: String): String, broken: String, live(maxAgeMs: Int!): String } type Mutation { change(to: String!): String }',
      resolvers: {
        Query: {
          value: (_: unknown, args: { key?: string }) => {
            executions++;
            return `${data}:${args.key ?? ''}`;
          },
          broken: () => {
            executions++;
            throw new Error('no');
          },
          // A field of live data, as a service's health: it bounds how long its answer is served.
          live: (_: unknown, args: { maxAgeMs: number }, ctx: CatalogContext) => {
            executions++;
            limitCacheAge(ctx, args.maxAgeMs);
            return `${data}:live`;
          },
        },
        Mutation: {
          change: (_: unknown, args: { to: string }) => {
            data = args.to;
            return data;
          },
        },
      },
    }),
    plugins: [cache.plugin],
    maskedErrors: false,
    logging: false,
  });
  const app = express();
  app.post(
    '/graphql',
    (req, res, next) => {
      const org = req.header('x-org');
      res.locals.principal = org
        ? ({ kind: 'org', tokenId: 't', organizationId: org, organization: org, scopes: [] } satisfies Principal)
        : ANONYMOUS;
      next();
    },
    // As the catalog hands it on: parsed, with the exact text kept for the cache key.
    express.json({
      verify: (req, _res, buf) => {
        (req as { rawBody?: string }).rawBody = buf.toString('utf8');
      },
    }),
    cache.middleware,
    (req, res) => void yoga(req, res),
  );
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  servers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  const run = async (query: string, org?: string, variables?: Record<string, unknown>) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(org ? { 'x-org': org } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
  };
  return {
    cache,
    run,
    executions: () => executions,
    setVersion: (v: string) => {
      version = v;
    },
    setData: (d: string) => {
      data = d;
    },
  };
}

describe('catalog response cache', () => {
  it('answers a repeated query from the cache until the catalog version changes', async () => {
    const t = await setup();
    expect((await t.run('{ value(key: "a") }')).data).toEqual({ value: 'first:a' });
    t.setData('second');
    expect((await t.run('{ value(key: "a") }')).data).toEqual({ value: 'first:a' });
    expect(t.executions()).toBe(1);
    t.setVersion('v2'); // another replica published
    expect((await t.run('{ value(key: "a") }')).data).toEqual({ value: 'second:a' });
    expect(t.executions()).toBe(2);
  });

  it('keys entries by variables and by who is asking', async () => {
    const t = await setup();
    const q = 'query($k: String) { value(key: $k) }';
    await t.run(q, undefined, { k: 'a' });
    await t.run(q, undefined, { k: 'b' });
    await t.run(q, 'acme', { k: 'a' });
    expect(t.executions()).toBe(3);
    await t.run(q, 'acme', { k: 'a' });
    expect(t.executions()).toBe(3);
  });

  it('serves an answer with a field of live data only as long as that field allows, and never one that allows 0', async () => {
    const t = await setup(60_000);
    await t.run('{ live(maxAgeMs: 300) }');
    t.setData('second');
    expect((await t.run('{ live(maxAgeMs: 300) }')).data).toEqual({ live: 'first:live' });
    expect(t.executions()).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect((await t.run('{ live(maxAgeMs: 300) }')).data).toEqual({ live: 'second:live' });
    expect(t.executions()).toBe(2);
    await t.run('{ live(maxAgeMs: 0) }');
    await t.run('{ live(maxAgeMs: 0) }');
    expect(t.executions()).toBe(4);
    expect(t.cache.size).toBe(1);
  });

  it('never caches errors, and a mutation in this process invalidates at once', async () => {
    const t = await setup(60_000);
    await t.run('{ broken }');
    await t.run('{ broken }');
    expect(t.executions()).toBe(2);
    await t.run('{ value }');
    await t.run('mutation { change(to: "changed") }');
    expect((await t.run('{ value }')).data).toEqual({ value: 'changed:' });
  });

  it('keeps at most maxEntries results, dropping the least recently used', async () => {
    const t = await setup();
    await t.run('{ value(key: "a") }');
    await t.run('{ value(key: "b") }');
    await t.run('{ value(key: "a") }'); // a is now the most recent
    await t.run('{ value(key: "c") }'); // evicts b
    expect(t.cache.size).toBe(2);
    const before = t.executions();
    await t.run('{ value(key: "a") }');
    expect(t.executions()).toBe(before);
    await t.run('{ value(key: "b") }');
    expect(t.executions()).toBe(before + 1);
  });
});

describe.each(testDatabaseKinds('catalog response cache in the app'))('the catalog with its cache on $name', (kind) => {
  let catalog: TestCatalog;
  beforeAll(async () => {
    catalog = await startTestCatalog(kind, { CATALOG_RESPONSE_CACHE: 'true', CATALOG_CACHE_CHECK_MS: '0' });
  });
  afterAll(async () => catalog?.close());

  const manifest = (description: string) => ({
    slug: 'cached',
    name: 'Cached',
    osb: { url: 'http://127.0.0.1:9' },
    services: [
      {
        id: 'cached-svc',
        slug: 'cached-db',
        name: 'Cached DB',
        description,
        category: 'databases',
        bindable: true,
        plans: [{ id: 'cached-plan', slug: 'free', description: 'free' }],
      },
    ],
  });
  const publish = (m: unknown) =>
    catalog.gql('mutation($m: JSON!) { publishManifest(manifest: $m) { __typename } }', { m }, catalog.adminToken);
  const read = async () => (await catalog.gql('{ service(slug: "cached-db") { description } }')).data?.service;

  it('serves a repeated query without touching the database, and shows a publish at once', async () => {
    expect((await publish(manifest('first'))).data.publishManifest.__typename).toBe('ManifestPublished');
    expect(await read()).toEqual({ description: 'first' });
    const before = catalog.statements.count;
    expect(await read()).toEqual({ description: 'first' });
    // Only the catalog-version check (interval 0 here) reaches the database.
    expect(catalog.statements.count - before).toBe(1);
    await publish(manifest('second'));
    expect(await read()).toEqual({ description: 'second' });
  });

  it('answers a hit without express, still with a request id, and never to a caller it cannot authenticate', async () => {
    await read();
    const ask = (headers: Record<string, string>) =>
      fetch(`${catalog.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query: '{ service(slug: "cached-db") { description } }' }),
      });
    const hit = await ask({});
    expect(hit.status).toBe(200);
    expect(hit.headers.get('content-type')).toMatch(/application\/(graphql-response\+)?json/);
    expect(hit.headers.get('x-request-id')).toMatch(/\S/);
    expect(((await hit.json()) as { data: unknown }).data).toEqual({ service: await read() });
    const revoked = await ask({ authorization: 'Bearer annex_admin_notarealtokennotarealtoken' });
    expect(revoked.status).toBe(401);
    const malformed = await ask({ authorization: 'Basic abc' });
    expect(malformed.status).toBe(401);
    const admin = await ask({ authorization: `Bearer ${catalog.adminToken}` });
    expect(admin.status).toBe(200);
  });

  it('answers a malformed body with 400, not 500', async () => {
    const res = await fetch(`${catalog.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"query": ',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { errors: { message: string }[] }).errors[0]?.message).toMatch(/invalid JSON/);
  });

  it('sees a publish made by another replica (a direct database change) at the next check', async () => {
    await catalog.database.db
      .updateTable('services')
      .set({ description: 'third' })
      .where('slug', '=', 'cached-db')
      .execute();
    // The service row changed but no publish bumped the version: still the cached answer.
    expect(await read()).toEqual({ description: 'second' });
    await catalog.database.db
      .updateTable('providers')
      .set({ current_revision: 99, updated_at: new Date() })
      .where('slug', '=', 'cached')
      .execute();
    expect(await read()).toEqual({ description: 'third' });
  });
});
