import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BrokerUnavailableError,
  ConfigVarCollisionError,
  ConflictError,
  ForbiddenError,
  NameTakenError,
  PlanNotOfferedError,
  ProviderFailedError,
} from './apps/errors.js';
import { BrokerClient } from './broker-client.js';
import { loadCatalogConfig } from './config.js';
import { InvalidInputError, NotAuthorizedError, NotFoundError } from './domain/errors.js';

// The client against a scripted HTTP server standing in for the broker: what it sends, how
// it reads each of the broker's error bodies, and its deadline. The real broker is used in
// apps.test.ts.

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  body: string;
}

let server: Server;
let baseUrl: string;
const seen: Seen[] = [];
let answer: (req: IncomingMessage) => { status: number; body?: string; delayMs?: number } = () => ({ status: 200 });

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, body });
      const { status, body: out = '', delayMs = 0 } = answer(req);
      const timer = setTimeout(() => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(out);
      }, delayMs);
      res.on('close', () => clearTimeout(timer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const failWith = (status: number, body: Record<string, unknown>) => {
  answer = () => ({ status, body: JSON.stringify(body) });
};

describe('BrokerClient', () => {
  it("calls /v1 with the caller's token and a JSON body, leaving out nulls", async () => {
    answer = () => ({ status: 202, body: JSON.stringify({ addon: { name: 'db-1' }, attachment: null }) });
    const api = new BrokerClient({ baseUrl: `${baseUrl}/` }).as('annex_secret');
    const created = await api.createAddon('my app', { plan: 'pg:hobby', as: null, parameters: { size: 1 } });
    expect(created.addon.name).toBe('db-1');
    const last = seen.at(-1);
    expect(last).toMatchObject({
      method: 'POST',
      url: '/v1/apps/my%20app/addons',
      authorization: 'Bearer annex_secret',
    });
    expect(JSON.parse(last?.body ?? '')).toEqual({ plan: 'pg:hobby', parameters: { size: 1 } });

    await new BrokerClient({ baseUrl })
      .as(undefined)
      .listApps()
      .catch(() => undefined);
    expect(seen.at(-1)?.authorization).toBeUndefined();
  });

  it("maps each of the broker's error codes to its typed error, with the fields it names", async () => {
    const api = new BrokerClient({ baseUrl }).as('t');
    const cases: [Record<string, unknown>, number, new (...args: never[]) => Error, RegExp][] = [
      [{ error: 'unauthorized', message: 'an API token is required' }, 401, NotAuthorizedError, /token is required/],
      [{ error: 'forbidden', message: 'needs config:read' }, 403, ForbiddenError, /config:read/],
      [{ error: 'conflict', message: 'add-on is destroying' }, 409, ConflictError, /destroying/],
      [{ error: 'not_offered', message: 'plan pro is private' }, 422, PlanNotOfferedError, /private/],
      [{ error: 'provider_failed', message: 'provider said 500' }, 502, ProviderFailedError, /provider said/],
    ];
    for (const [body, status, type, message] of cases) {
      failWith(status, body);
      const error = await api.createApp({ name: 'x' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(type);
      expect((error as Error).message).toMatch(message);
    }

    failWith(409, {
      error: 'var_collision',
      message: 'DATABASE_URL is set by user',
      name: 'DATABASE_URL',
      owner: 'user',
    });
    const collision = (await api.createAddon('web', { plan: 'pg:hobby' }).catch((e) => e)) as ConfigVarCollisionError;
    expect(collision).toBeInstanceOf(ConfigVarCollisionError);
    expect([collision.varName, collision.owner]).toEqual(['DATABASE_URL', 'user']);

    failWith(409, { error: 'name_taken', message: 'app name "web" is taken', name: 'web' });
    const taken = (await api.createApp({ name: 'web' }).catch((e) => e)) as NameTakenError;
    expect(taken).toBeInstanceOf(NameTakenError);
    expect(taken.takenName).toBe('web');

    failWith(400, { error: 'invalid_input', message: 'plan: expected service:plan', field: 'plan' });
    const invalid = (await api.createAddon('web', { plan: 'nope' }).catch((e) => e)) as InvalidInputError;
    expect(invalid).toBeInstanceOf(InvalidInputError);
    expect(invalid.problems).toEqual([{ path: 'plan', message: 'expected service:plan' }]);
  });

  it('reads not_found as null for lookups and as NotFound naming the subject for commands', async () => {
    const api = new BrokerClient({ baseUrl }).as('t');
    failWith(404, { error: 'not_found', message: 'app not found' });
    expect(await api.getApp('theirs')).toBeNull();
    expect(await api.getAddon('theirs-db')).toBeNull();
    const error = await api.destroyAddon('theirs-db').catch((e) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error).toMatchObject({ kind: 'add-on', key: 'theirs-db', message: 'app not found' });
    failWith(404, { error: 'not_found' });
    expect(await api.destroyAddon('theirs-db').catch((e) => e)).toMatchObject({ message: 'no add-on "theirs-db"' });
  });

  it('calls anything else, and no answer within the deadline, BrokerUnavailable', async () => {
    const api = new BrokerClient({ baseUrl, timeoutMs: 200 }).as('t');
    answer = () => ({ status: 500, body: '<html>oops</html>' });
    const notJson = await api.listApps().catch((e) => e);
    expect(notJson).toBeInstanceOf(BrokerUnavailableError);
    expect((notJson as BrokerUnavailableError).status).toBe(500);

    failWith(503, { description: 'starting' });
    expect(await api.listApps().catch((e) => e)).toBeInstanceOf(BrokerUnavailableError);

    answer = () => ({ status: 200, body: '{"apps": []}', delayMs: 2_000 });
    const started = Date.now();
    const late = await api.listApps().catch((e) => e);
    expect(late).toBeInstanceOf(BrokerUnavailableError);
    expect((late as Error).message).toMatch(/no answer within 200 ms/);
    expect(Date.now() - started).toBeLessThan(1_500);

    const closed = new BrokerClient({ baseUrl: 'http://127.0.0.1:9' }).as('t');
    const unreachable = (await closed.listApps().catch((e) => e)) as BrokerUnavailableError;
    expect(unreachable).toBeInstanceOf(BrokerUnavailableError);
    expect(unreachable.status).toBeNull();
  });

  it('gives a long poll its wait on top of the deadline, and stops when the caller aborts', async () => {
    const api = new BrokerClient({ baseUrl, timeoutMs: 200 }).as('t');
    answer = () => ({ status: 200, body: '{"events": []}', delayMs: 400 });
    expect(await api.events('web', { waitMs: 500 })).toEqual([]);
    expect(seen.at(-1)?.url).toBe('/v1/apps/web/events?waitMs=500');

    answer = () => ({ status: 200, body: '{"events": []}', delayMs: 5_000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const started = Date.now();
    const error = await api.events('web', { after: '7', waitMs: 10_000, signal: controller.signal }).catch((e) => e);
    expect(error).not.toBeInstanceOf(BrokerUnavailableError);
    expect((error as Error).name).toBe('AbortError');
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(seen.at(-1)?.url).toBe('/v1/apps/web/events?waitMs=10000&after=7');
  });
});

describe('the per-request call budget', () => {
  it('refuses calls past maxCalls without sending them; long polls do not count', async () => {
    answer = (req) => ({ status: 200, body: req.url?.includes('/events') ? '{"events": []}' : '{"apps": []}' });
    const api = new BrokerClient({ baseUrl }).as('t', { maxCalls: 2 });
    await api.listApps();
    await api.events('web', { waitMs: 0 });
    await api.listApps();
    const sent = seen.length;
    const error = (await api.listApps().catch((e) => e)) as InvalidInputError;
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.message).toMatch(/^query: needs more than 2 calls to the broker/);
    expect(seen.length).toBe(sent);
    expect(api.calls).toBe(3);
  });
});

describe('CATALOG_BROKER_URL', () => {
  it('defaults to the local broker, drops a trailing slash, and refuses what is not an http(s) URL', () => {
    expect(loadCatalogConfig({}).brokerUrl).toBe('http://127.0.0.1:4001');
    expect(loadCatalogConfig({ CATALOG_BROKER_URL: 'https://broker.example/' }).brokerUrl).toBe(
      'https://broker.example',
    );
    for (const bad of ['ftp://broker.example', 'broker:4001', 'not a url']) {
      expect(() => loadCatalogConfig({ CATALOG_BROKER_URL: bad })).toThrow(
        /CATALOG_BROKER_URL: expected an http\(s\) URL/,
      );
    }
  });
});
