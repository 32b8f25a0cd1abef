import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { answers, requests, unscopedRoutes } from '@annex/contracts/v1';
import { createApiToken, type Database, OPERATION_SCOPES, PROVIDER_SCOPES } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import { PROVIDER_CALLBACKS } from '@annex/sdk/callbacks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../testing.js';
import { documentedRoutes, type OpenApiDocument, openApiDocument } from './index.js';
import { ConformanceRecorder, conformanceProblem, type Exchange } from './testing/conformance.js';

const restRoutes = Object.keys(OPERATION_SCOPES).filter((key) => /^[A-Z]+ \/v1\//.test(key));
const operations = (document: OpenApiDocument) =>
  Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ path, method, operation })),
  );

describe('the OpenAPI document, generated from the contracts', () => {
  const document = openApiDocument({ serverUrl: 'https://broker.example.test' });

  it('has an operation for every /v1 route of the scope table, every unscoped route and provider callback, and no other', () => {
    const routes = operations(document).map(({ operation }) => operation['x-annex-route']);
    expect(routes.sort()).toEqual(
      [...restRoutes, ...Object.keys(unscopedRoutes), ...Object.keys(PROVIDER_CALLBACKS)].sort(),
    );
    expect(documentedRoutes().sort()).toEqual(routes);
    for (const { path, method, operation } of operations(document)) {
      const [verb, expressPath] = operation['x-annex-route'].split(' ') as [string, string];
      expect(method).toBe(verb.toLowerCase());
      expect(path).toBe(expressPath.replace(/:([A-Za-z]+)/g, '{$1}'));
    }
  });

  it("names each operation's scope in x-annex-scope, its security and its description", () => {
    for (const { operation } of operations(document)) {
      const scope = (OPERATION_SCOPES as Record<string, string | undefined>)[operation['x-annex-route']];
      if (scope) {
        expect(operation['x-annex-scope'], operation['x-annex-route']).toBe(scope);
        // A provider's own data takes a provider token; everything else an org, platform or admin token.
        const scheme = scope in PROVIDER_SCOPES ? 'providerToken' : 'apiToken';
        expect(operation.security).toEqual([{ [scheme]: [scope] }]);
        expect(operation.description).toContain(`\`${scope}\``);
      } else if (operation['x-annex-route'].startsWith('POST /v1/billing/stripe/')) {
        expect(operation.security).toEqual([]);
      } else {
        expect(operation.security).toEqual([{ providerToken: [] }]);
      }
    }
    expect(document.components.securitySchemes.apiToken).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('takes bodies and answers from the contracts, and declares every path parameter', () => {
    for (const { path, operation } of operations(document)) {
      const route = operation['x-annex-route'];
      const callback = (PROVIDER_CALLBACKS as Record<string, { request?: unknown } | undefined>)[route];
      expect(operation.requestBody !== undefined, route).toBe(callback ? 'request' in callback : route in requests);
      const documentedAnswer = Object.values(operation.responses).some((r) => 'content' in r && r.content);
      expect(documentedAnswer, route).toBe(callback !== undefined || route in answers);
      const names = [...path.matchAll(/\{([A-Za-z]+)\}/g)].map((m) => m[1]);
      expect(operation.parameters?.filter((p) => p.in === 'path').map((p) => p.name) ?? [], route).toEqual(names);
    }
    const ids = operations(document).map(({ operation }) => operation.operationId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('answers refusals with the /v1 error body, and provider callbacks with the OSB one', () => {
    const createApp = document.paths['/v1/apps']?.post;
    expect(createApp?.responses['409']).toEqual({ $ref: '#/components/responses/ApiError' });
    expect(createApp?.responses['201']).toMatchObject({ content: { 'application/json': {} } });
    expect(document.paths['/v1/provider/usage']?.post?.responses['400']).toEqual({
      $ref: '#/components/responses/CallbackError',
    });
    expect(document.components.schemas.ApiError).toMatchObject({
      properties: { error: { enum: expect.arrayContaining(['invalid_input', 'forbidden', 'internal']) } },
      required: ['error', 'message'],
    });
  });
});

describe('the conformance check of recorded traffic', () => {
  const exchange = (over: Partial<Exchange>): Exchange => ({
    method: 'GET',
    url: '/v1/addons/db-1/shares',
    requestBody: '',
    requestContentType: undefined,
    status: 200,
    responseBody: JSON.stringify({ organizations: ['acme'] }),
    responseContentType: 'application/json; charset=utf-8',
    ...over,
  });

  it('passes an exchange the document describes, and a refusal in the error body', () => {
    expect(conformanceProblem(exchange({}))).toBeUndefined();
    const refusal = { error: 'not_found', message: 'add-on "x" not found' };
    expect(conformanceProblem(exchange({ status: 404, responseBody: JSON.stringify(refusal) }))).toBeUndefined();
  });

  it('reports an answer outside the document: a field it does not have, a status it does not list, a body where none is', () => {
    expect(conformanceProblem(exchange({ responseBody: JSON.stringify({ organizations: ['a'], extra: 1 }) }))).toMatch(
      /outside the document: \(root\) must NOT have additional properties/,
    );
    expect(conformanceProblem(exchange({ status: 201 }))).toMatch(/documents no 201 answer/);
    expect(
      conformanceProblem(exchange({ method: 'POST', url: '/v1/apps/web/config-vars/confirm', status: 204 })),
    ).toMatch(/answered a body where the document has none/);
    expect(conformanceProblem(exchange({ status: 400, responseBody: JSON.stringify({ message: 'no code' }) }))).toMatch(
      /must have required property 'error'/,
    );
  });

  it('reports a path the document does not have unless it was answered 404', () => {
    expect(conformanceProblem(exchange({ url: '/v1/nowhere' }))).toMatch(/no operation of the document/);
    expect(conformanceProblem(exchange({ url: '/v1/nowhere', status: 404 }))).toBeUndefined();
  });

  it('reports a request accepted outside the document, and lets a refused one be anything', () => {
    const badBody = {
      method: 'POST',
      url: '/v1/apps',
      requestBody: JSON.stringify({ name: 42 }),
      requestContentType: 'application/json',
      status: 201,
      responseBody: JSON.stringify({
        id: '1',
        name: 'web',
        organization: 'acme',
        releaseVersion: 0,
        createdAt: '2026-01-01T00:00:00.000Z',
      }),
    };
    expect(conformanceProblem(exchange(badBody))).toMatch(/accepted a request body outside the document: \/name/);
    expect(
      conformanceProblem(
        exchange({ ...badBody, status: 400, responseBody: JSON.stringify({ error: 'invalid_input', message: 'x' }) }),
      ),
    ).toBeUndefined();
    expect(conformanceProblem(exchange({ url: '/v1/addons/db-1/shares?verbose=1' }))).toMatch(
      /query parameter "verbose", which the document does not have/,
    );
  });
});

describe('GET /openapi.json and the reference page', () => {
  let database: Database;
  let broker: TestBroker;

  beforeAll(async () => {
    database = await (testDatabaseKinds('openapi')[0] as { open(): Promise<Database> }).open();
    broker = await startTestBroker(database, { BROKER_WORKERS: 'false' });
  });
  afterAll(async () => {
    await broker?.close();
    await database?.close();
  });

  it('serves the document without a token, cacheable, with an ETag that answers 304', async () => {
    const response = await fetch(`${broker.url}/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('cache-control')).toMatch(/^public, max-age=\d+/);
    const etag = response.headers.get('etag');
    expect(etag).toMatch(/^"[^"]+"$/);
    const document = (await response.json()) as OpenApiDocument;
    expect(document.openapi).toBe('3.1.0');
    expect(document.servers).toEqual([{ url: broker.url }]);
    expect(document.paths['/v1/apps/{app}/config-vars']?.get?.['x-annex-scope']).toBe('config:read');
    const again = await fetch(`${broker.url}/openapi.json`, { headers: { 'if-none-match': etag as string } });
    expect(again.status).toBe(304);
  });

  it('serves a reference page whose every URL is the broker’s own, its scripts from the installed swagger-ui-dist', async () => {
    const page = await fetch(`${broker.url}/docs/api`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await page.text();
    const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string);
    expect(urls.length).toBeGreaterThanOrEqual(3);
    const dist = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
    for (const url of urls) {
      expect(url, url).toMatch(/^\/[^/]/);
      const asset = await fetch(`${broker.url}${url}`);
      expect(asset.status, url).toBe(200);
      const text = await asset.text();
      if (url.endsWith('/init.js')) {
        expect(text).toContain("url: '/openapi.json'");
        expect(text).toContain('validatorUrl: null');
      } else {
        expect(text, url).toBe(readFileSync(join(dist, url.split('/').pop() as string), 'utf8'));
      }
    }
    expect((await fetch(`${broker.url}/docs/api/package.json`)).status).toBe(404);
  });

  it('checks live traffic: a conforming call passes, a deviation is reported', async () => {
    const org = await database.db
      .insertInto('organizations')
      .values({ slug: 'openapi-org', name: 'OpenAPI' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const { token } = await createApiToken(database.db, { kind: 'org', name: 't', organizationId: org.id });
    const before = broker.conformance.checked;
    const created = await fetch(`${broker.url}/v1/apps`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'openapi-web' }),
    });
    expect(created.status).toBe(201);
    const refused = await fetch(`${broker.url}/v1/apps`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 7 }),
    });
    expect(refused.status).toBe(400);
    expect(broker.conformance.checked).toBe(before + 2);
    expect(broker.conformance.problems).toEqual([]);

    // The same recorder, around a listener that answers outside the document.
    const recorder = new ConformanceRecorder();
    const listener = recorder.listener((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ apps: 'not a list' }));
    });
    const { createServer } = await import('node:http');
    const server = createServer(listener);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await (await fetch(`http://127.0.0.1:${port}/v1/apps`)).text();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(recorder.problems).toEqual([
      expect.stringMatching(/^GET \/v1\/apps → 200: the answer is outside the document/),
    ]);
  });
});
