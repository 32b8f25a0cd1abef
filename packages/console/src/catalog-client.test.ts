import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCatalogClient, errorAt, requestDashboardSso, UpstreamError } from './catalog-client.js';

// The console's side of the SSO contract with the broker, against a broker stand-in that
// records what it receives and answers what each test needs.

describe('requestDashboardSso', () => {
  let server: Server;
  let url: string;
  let answer: { status: number; body: unknown } = { status: 201, body: {} };
  const received: { method?: string; path?: string; authorization?: string; body?: unknown }[] = [];
  beforeAll(async () => {
    server = createServer(async (req: IncomingMessage, res) => {
      let text = '';
      for await (const chunk of req) text += chunk;
      received.push({
        method: req.method,
        path: req.url,
        authorization: req.headers.authorization,
        body: JSON.parse(text || 'null'),
      });
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const user = { id: 'u1', email: 'dana@example.com', name: 'Dana' };

  it('posts the add-on, app and user with the session token and returns the URL', async () => {
    answer = { status: 201, body: { url: 'https://kv.example.com/sso?token=abc', expiresAt: '2026-11-27T13:00:00Z' } };
    const result = await requestDashboardSso(url, 'annex_org_token', { addon: 'kv one', app: 'web', user });
    expect(result.url).toBe('https://kv.example.com/sso?token=abc');
    expect(received.at(-1)).toEqual({
      method: 'POST',
      path: '/v1/addons/kv%20one/sso',
      authorization: 'Bearer annex_org_token',
      body: { app: 'web', user },
    });
  });

  it('passes the broker refusal on with its status and message', async () => {
    answer = { status: 404, body: { error: 'not_found', message: 'add-on "kv" not found' } };
    const error = await requestDashboardSso(url, 't', { addon: 'kv', user }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ status: 404, message: 'Opening the dashboard failed: add-on "kv" not found' });
  });

  it('refuses an answer whose URL is not http(s), and an unreachable broker', async () => {
    answer = { status: 201, body: { url: 'javascript:alert(1)' } };
    await expect(requestDashboardSso(url, 't', { addon: 'kv', user })).rejects.toMatchObject({ status: 502 });
    await expect(requestDashboardSso('http://127.0.0.1:1', 't', { addon: 'kv', user })).rejects.toThrow(
      'the broker could not be reached',
    );
  });
});

// The console's side of GraphQL: a whole answer, a partial one (data and errors, both kept),
// and answers without data, against a catalog stand-in answering what each test needs.

describe('the catalog client', () => {
  let server: Server;
  let catalog: ReturnType<typeof createCatalogClient>;
  let answer: { status: number; body: unknown } = { status: 200, body: {} };
  beforeAll(async () => {
    server = createServer(async (req, res) => {
      for await (const _ of req);
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    catalog = createCatalogClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('returns the data of a whole answer with no errors', async () => {
    answer = { status: 200, body: { data: { app: { name: 'web' } } } };
    expect(await catalog.query('t', '{ app(name: "web") { name } }')).toEqual({
      data: { app: { name: 'web' } },
      errors: [],
    });
  });

  it('returns the data of a partial answer with the errors of the fields that failed', async () => {
    answer = {
      status: 200,
      body: {
        data: { app: null, apps: [] },
        errors: [{ message: 'boom', path: ['app'] }, { message: 'no path' }, { path: ['apps', 0, 'x'] }],
      },
    };
    const result = await catalog.query('t', '{ app(name: "web") { name } apps { x } }');
    expect(result).toEqual({
      data: { app: null, apps: [] },
      errors: [
        { message: 'boom', path: ['app'] },
        { message: 'no path', path: [] },
        { message: 'the catalog gave no reason', path: ['apps', 0, 'x'] },
      ],
    });
    expect(errorAt(result.errors, 'app')?.message).toBe('boom');
    // An error without a path may be about any field.
    expect(errorAt(result.errors.slice(2), 'app')).toBeUndefined();
    expect(errorAt(result.errors.slice(1), 'service')?.message).toBe('no path');
  });

  it('throws when no data came back, with the status its error code gives', async () => {
    answer = { status: 200, body: { data: null, errors: [{ message: 'gone', extensions: { code: 'NOT_FOUND' } }] } };
    await expect(catalog.query('t', '{ x }')).rejects.toMatchObject({ status: 404, message: 'gone' });
    answer = { status: 400, body: { errors: [{ message: 'Cannot query field "x" on type "Query".' }] } };
    await expect(catalog.query('t', '{ x }')).rejects.toMatchObject({ status: 502, message: /Cannot query field/ });
    answer = { status: 200, body: {} };
    await expect(catalog.query('t', '{ x }')).rejects.toMatchObject({ status: 502, message: /without data/ });
    answer = { status: 401, body: { errors: [{ message: 'bad token' }] } };
    await expect(catalog.query('t', '{ x }')).rejects.toMatchObject({ status: 401 });
  });
});
