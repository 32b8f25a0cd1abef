import { testDatabaseKinds } from '@annex/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GraphQLResponse, PUBLISH, sampleManifest, startTestCatalog, type TestCatalog } from '../testing.js';

const NUL = '\u0000';

describe.each(testDatabaseKinds('NUL and control characters in arguments'))(
  'arguments with NUL or control characters on $name',
  (kind) => {
    let catalog: TestCatalog;
    beforeAll(async () => {
      catalog = await startTestCatalog(kind);
      expect((await catalog.gql(PUBLISH, { manifest: sampleManifest() }, catalog.adminToken)).data).toMatchObject({
        publishManifest: { __typename: 'ManifestPublished' },
      });
    });
    afterAll(async () => catalog?.close());

    /** Refused before anything ran, with a typed error naming the argument: never a 500. */
    function expectRefused(answer: GraphQLResponse, field: string, problem = /NUL character \(U\+0000\)/) {
      expect([200, 400]).toContain(answer.status);
      expect(answer.data).toBeUndefined();
      expect(answer.errors).toHaveLength(1);
      expect(answer.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
      expect(answer.errors?.[0]?.message).toMatch(new RegExp(`^${field.replaceAll('.', '\\.')}: must not contain `));
      expect(answer.errors?.[0]?.message).toMatch(problem);
    }

    it('refuses a NUL in query arguments, literal or variable, naming the argument', async () => {
      // GraphQL's own escape in a literal; a raw NUL in a variable.
      expectRefused(await catalog.gql('{ provider(slug: "ac\\u0000me") { name } }'), 'slug');
      expectRefused(
        await catalog.gql('query($slug: String!) { provider(slug: $slug) { name } }', { slug: `ac${NUL}me` }),
        'slug',
      );
      expectRefused(await catalog.gql('query($id: ID!) { node(id: $id) { id } }', { id: `x${NUL}` }), 'id');
      expectRefused(
        await catalog.gql('query($q: String) { services(filter: { search: $q }) { totalCount } }', {
          q: `red${NUL}is`,
        }),
        'filter.search',
      );
      expectRefused(
        await catalog.gql('query($f: ServiceFilter) { services(filter: $f) { totalCount } }', {
          f: { tags: ['sql', `k${NUL}v`] },
        }),
        'filter.tags.1',
      );
      expectRefused(
        await catalog.gql(`{ services(filter: { provider: "acme\\u0000" }) { totalCount } }`),
        'filter.provider',
      );
      // A GET carries its variables in the URL.
      const url = new URL(`${catalog.url}/graphql`);
      url.searchParams.set('query', 'query($slug: String!) { service(slug: $slug) { name } }');
      url.searchParams.set('variables', JSON.stringify({ slug: `acme-redis${NUL}` }));
      const get = await fetch(url, { headers: { accept: 'application/json' } });
      expectRefused({ status: get.status, ...((await get.json()) as object) }, 'slug');
    });

    it('refuses control characters where a name, slug or id is expected, and allows them in free text', async () => {
      expectRefused(
        await catalog.gql('query($slug: String!) { provider(slug: $slug) { name } }', { slug: 'ac\u0007me' }),
        'slug',
        /control characters \(found U\+0007\)/,
      );
      expectRefused(await catalog.gql('{ service(slug: "acme-redis\\n") { name } }'), 'slug', /found U\+000A/);
      expectRefused(await catalog.gql('{ plan(id: "\u0085x") { slug } }'), 'id', /found U\+0085/);
      const search = await catalog.gql('query($q: String) { services(filter: { search: $q }) { totalCount } }', {
        q: 'in-memory\tcache\n',
      });
      expect(search.errors).toBeUndefined();
      expect(search.data.services.totalCount).toBe(1);
    });

    it('refuses a NUL or control character in a mutation, and writes nothing', async () => {
      const organizations = async () =>
        (await catalog.database.db.selectFrom('organizations').select('slug').execute()).map((o) => o.slug);
      const before = await organizations();
      expectRefused(
        await catalog.gql(
          'mutation { createOrganization(name: "Acme\\u0000", slug: "acme-org") { __typename } }',
          {},
          catalog.adminToken,
        ),
        'name',
      );
      expectRefused(
        await catalog.gql(
          'mutation($slug: String!) { createOrganization(name: "Acme", slug: $slug) { __typename } }',
          { slug: 'acme\u001b[31m' },
          catalog.adminToken,
        ),
        'slug',
        /found U\+001B/,
      );
      expect(await organizations()).toEqual(before);
      // Free text: a reason may span lines, but never carry a NUL.
      expectRefused(
        await catalog.gql(
          'mutation($input: SetConfigVarsInput!) { setConfigVars(input: $input) { __typename } }',
          { input: { app: 'web', vars: { A: '1' }, reason: `why${NUL}` } },
          catalog.adminToken,
        ),
        'input.reason',
      );
      const multiline = await catalog.gql(
        'mutation($input: SetConfigVarsInput!) { setConfigVars(input: $input) { __typename } }',
        { input: { app: 'web', vars: { A: '1' }, reason: 'first line\nsecond line' } },
        catalog.adminToken,
      );
      expect(multiline.errors).toBeUndefined();
      expectRefused(
        await catalog.gql(
          'mutation($input: SetConfigVarsInput!) { setConfigVars(input: $input) { __typename } }',
          { input: { app: 'web', vars: { A: `x${NUL}y` } } },
          catalog.adminToken,
        ),
        'input.vars.A',
      );
    });

    it('refuses a NUL anywhere in a manifest, values and keys, and stores nothing', async () => {
      const revision = async () =>
        (
          await catalog.database.db
            .selectFrom('providers')
            .select('current_revision')
            .where('slug', '=', 'acme')
            .executeTakeFirst()
        )?.current_revision;
      const before = await revision();
      const changed = sampleManifest();
      const service = changed.services[1] as (typeof changed.services)[number];
      service.description = `In-memory${NUL} cache`;
      expectRefused(
        await catalog.gql(PUBLISH, { manifest: changed }, catalog.adminToken),
        'manifest.services.1.description',
      );
      const key = sampleManifest();
      (key.services[0] as { metadata?: unknown }).metadata = { [`x${NUL}`]: 1 };
      expectRefused(
        await catalog.gql(PUBLISH, { manifest: key }, catalog.adminToken),
        'manifest.services.0.metadata',
        /in a key/,
      );
      expect(await revision()).toBe(before);
      // JSON is free text: a description may span lines.
      const multiline = sampleManifest();
      (multiline.services[1] as { description: string }).description = 'In-memory\nkey value cache';
      const published = await catalog.gql(PUBLISH, { manifest: multiline }, catalog.adminToken);
      expect(published.data.publishManifest).toMatchObject({ __typename: 'ManifestPublished' });
    });

    it('checks every request of the same query text against its own variables and operation', async () => {
      const query = 'query($slug: String!) { provider(slug: $slug) { name } }';
      for (const slug of ['acme', `ac${NUL}me`, 'acme', 'ac\u0007me']) {
        const answer = await catalog.gql(query, { slug });
        if (slug === 'acme') {
          expect(answer.errors).toBeUndefined();
          expect(answer.data.provider).not.toBeNull();
        } else {
          expectRefused(answer, 'slug', /must not contain (a NUL|control)/);
        }
      }
      // One document, two operations: each is checked on its own arguments.
      const document = `query Clean { provider(slug: "acme") { name } }
        query Dirty { service(slug: "acme\\u0000redis") { name } }`;
      const run = async (operationName: string) => {
        const res = await fetch(`${catalog.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: document, operationName }),
        });
        return { status: res.status, ...((await res.json()) as object) } as GraphQLResponse;
      };
      for (const name of ['Clean', 'Dirty', 'Clean', 'Dirty']) {
        const answer = await run(name);
        if (name === 'Clean') expect(answer.errors).toBeUndefined();
        else expectRefused(answer, 'slug');
      }
    });

    it('refuses a NUL in a subscription argument before it starts', async () => {
      const res = await fetch(`${catalog.url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'text/event-stream',
          authorization: `Bearer ${catalog.adminToken}`,
        },
        body: JSON.stringify({
          query: 'subscription($app: String!) { addonEvents(app: $app) { id } }',
          variables: { app: `web${NUL}` },
        }),
      });
      const text = await res.text();
      expect(text).toMatch(/"code":"BAD_USER_INPUT","field":"app"/);
    });
  },
);
