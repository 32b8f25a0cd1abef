import { request } from 'node:http';
import { testDatabaseKinds } from '@annex/platform/testing';
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCatalog, type TestCatalog } from '../testing.js';
import { MAX_VALIDATION_ERRORS, parserCache } from './limits.js';

const list = (count: number, item: (i: number) => string) => Array.from({ length: count }, (_, i) => item(i)).join(' ');

// What one document may cost does not depend on the database: PGlite only.
const [pglite] = testDatabaseKinds('GraphQL document limits');

describe('GraphQL document limits', () => {
  let catalog: TestCatalog;
  let cached: TestCatalog;
  beforeAll(async () => {
    catalog = await startTestCatalog(pglite as NonNullable<typeof pglite>, { NODE_ENV: 'production' });
    cached = await startTestCatalog(pglite as NonNullable<typeof pglite>, { CATALOG_RESPONSE_CACHE: 'true' });
  });
  afterAll(async () => {
    await catalog?.close();
    await cached?.close();
  });

  it('refuses the megabyte documents that held the event loop, with a token or without, while /healthz answers', async () => {
    const hostile = [
      `{ categories${' @skip(if:false)'.repeat(320_000)} { id } }`,
      `query(${list(100_000, (i) => `$v${i}: Int`)}) { categories { id } }`,
      `{ categories(${list(200_000, (i) => `a${i}: 1`)}) { id } }`,
      `{ categories${' @x'.repeat(400_000)} { id } }`,
    ];
    for (const server of [catalog, cached]) {
      for (const token of [undefined, server.adminToken]) {
        let attacking = true;
        const answers: Awaited<ReturnType<TestCatalog['gql']>>[] = [];
        const attackers = hostile.map(async (query) => {
          do answers.push(await server.gql(query, undefined, token));
          while (attacking);
        });
        for (let i = 0; i < 5; i++) expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
        attacking = false;
        await Promise.all(attackers);
        for (const answer of answers) {
          expect(answer.data).toBeUndefined();
          expect(answer.errors).toHaveLength(1);
          // Without a token the body is too large already; with one, the query text is.
          expect(answer.errors?.[0]).toMatchObject(
            token
              ? {
                  message: expect.stringMatching(/over the limit of 65536; send values as variables$/),
                  extensions: { code: 'QUERY_TOO_LARGE' },
                }
              : {
                  message: expect.stringMatching(/^request body over 262144 bytes/),
                  extensions: { code: 'PAYLOAD_TOO_LARGE' },
                },
          );
        }
      }
    }
  });

  it('refuses a short document with too many tokens or directives, naming the limit', async () => {
    const tokens = await catalog.gql(`{ ${list(600, () => '__typename')} }`);
    expect(tokens.data).toBeUndefined();
    expect(tokens.errors?.[0]).toMatchObject({
      message: 'the query has more than 600 tokens, the limit',
      extensions: { code: 'QUERY_TOO_LARGE' },
    });
    const fits = await catalog.gql(`{ ${list(598, () => '__typename')} }`);
    expect(fits.data).toEqual({ __typename: 'Query' });

    const directives = await catalog.gql(`{ categories ${list(51, () => '@include(if: true)')} { id } }`);
    expect(directives.data).toBeUndefined();
    expect(directives.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_LARGE');
    expect(directives.errors?.[0]?.message).toMatch(/Directives limit of 50 exceeded, found 51/);
  });

  it('measures the query text alone: a manifest of megabytes still travels in the variables', async () => {
    const padded = await catalog.gql(
      'query($slug: String!) { provider(slug: $slug) { name } }',
      { slug: 'x'.repeat(3_000_000) },
      catalog.adminToken,
    );
    expect(padded).toEqual({ status: 200, data: { provider: null } });
    // Bytes, not characters: 30,000 two-byte characters are 60,000 bytes.
    const text = `# ${'é'.repeat(30_000)}${'x'.repeat(6_000)}\n{ categories { id } }`;
    const long = await catalog.gql(text);
    expect(long.errors?.[0]?.message).toBe(
      `the query is ${Buffer.byteLength(text)} bytes, over the limit of 65536; send values as variables`,
    );
  });

  it('without a token, refuses a body over 256 kB before parsing it; with one, the limit is 5 MB', async () => {
    for (const server of [catalog, cached]) {
      const query = 'query($slug: String!) { provider(slug: $slug) { name } }';
      const variables = { slug: 'x'.repeat(300 * 1024) };
      const anonymous = await server.gql(query, variables);
      expect(anonymous.status).toBe(413);
      expect(anonymous.errors?.[0]).toMatchObject({
        message: 'request body over 262144 bytes (5242880 with an API token)',
        extensions: { code: 'PAYLOAD_TOO_LARGE' },
      });
      expect(await server.gql(query, variables, server.adminToken)).toEqual({ status: 200, data: { provider: null } });
      const bogus = await server.gql(query, variables, 'annex_admin_notarealtokennotarealtoken');
      expect(bogus.status).toBe(401);
    }
  });

  it(`reports at most ${MAX_VALIDATION_ERRORS} validation errors, then says it stopped`, async () => {
    const answer = await catalog.gql(`{ ${list(300, (i) => `unknown${i}`)} }`);
    expect(answer.errors).toHaveLength(MAX_VALIDATION_ERRORS + 1);
    expect(answer.errors?.[0]?.message).toBe('Cannot query field "unknown0" on type "Query".');
    expect(answer.errors?.at(-1)?.message).toMatch(/Too many validation errors/);
  });

  it('answers a body that is not one GraphQL request object with 400 naming the problem', async () => {
    for (const server of [catalog, cached]) {
      for (const body of ['{}', '[{"query":"{ categories { id } }"}]', '"{ categories { id } }"', 'null']) {
        const res = await fetch(`${server.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        expect(res.status).toBe(400);
        const answer = (await res.json()) as { errors: { message: string; extensions: { code: string } }[] };
        expect(answer.errors[0]?.message).toMatch(/must be a JSON object such as \{"query"/);
        expect(answer.errors[0]?.extensions.code).toBe('BAD_REQUEST');
      }
    }
  });

  it('refuses a streamed body over 5 MB, and a streamed body it would have to read without a limit', async () => {
    const stream = (server: TestCatalog, contentType: string, bytes: number) =>
      new Promise<number>((resolve, reject) => {
        const headers = { 'content-type': contentType, authorization: `Bearer ${server.adminToken}` };
        const req = request(`${server.url}/graphql`, { method: 'POST', headers }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', (error) => ((error as { code?: string }).code === 'ECONNRESET' ? resolve(413) : reject(error)));
        // No Content-Length: the body arrives in chunks until it ends.
        req.write(`{"query": "{ categories { id } }", "variables": {"pad": "`);
        for (let sent = 0; sent < bytes; sent += 64 * 1024) req.write('x'.repeat(64 * 1024));
        req.end('"}}');
      });
    for (const server of [catalog, cached]) {
      expect(await stream(server, 'application/json', 6 * 1024 * 1024)).toBe(413);
      expect(await stream(server, 'application/json', 1024)).toBe(200);
      expect(await stream(server, 'application/graphql', 1024)).toBe(411);
    }
  });

  it('keeps parsed documents within a memory budget however many different ones arrive', () => {
    const cache = parserCache();
    const documents = cache.documentCache as unknown as { set(k: string, v: unknown): void; calculatedSize: number };
    for (let i = 0; i < 1_000; i++) {
      const text = `# ${i}\n{ ${list(149, () => 'categories { id }')} }`;
      documents.set(text, parse(text));
    }
    expect(documents.calculatedSize).toBeGreaterThan(16 * 1024 * 1024);
    expect(documents.calculatedSize).toBeLessThanOrEqual(32 * 1024 * 1024);
  });
});
