import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCatalogClient, errorAt } from './catalog-client.js';

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
