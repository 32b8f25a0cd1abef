import { connect, createServer, type Server, type Socket } from 'node:net';
import { createApiToken, type Database, migrateToLatest, openDatabase } from '@annex/platform';
import { createScratchDatabase, serverUrl, testDatabaseKinds } from '@annex/platform/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { type CatalogFixture, seedCatalog, startTestBroker, type TestBroker } from '../../testing.js';

/** A TCP relay to PostgreSQL that the test can cut (every connection dropped, the port closed) and restore. */
async function startRelay(target: { host: string; port: number }) {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = async () => {
    server = createServer((client) => {
      const upstream = connect(target.port, target.host);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server?.listen(port, '127.0.0.1', resolve));
    const address = server.address();
    port = typeof address === 'object' && address ? address.port : port;
  };
  await listen();
  return {
    port,
    async cut() {
      const closed = new Promise<void>((resolve) => server?.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
    restore: listen,
  };
}

// While the database cannot be reached, every API of the broker answers 503 with Retry-After
// in its own error shape (OSB on /v2 and provider callbacks, `unavailable` on /v1), not 500.
describe('database outage', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
  });

  /** Logs in everywhere once, so that what fails later is the database and not the credentials. */
  async function callers(broker: TestBroker, database: Database, fx: CatalogFixture) {
    const org = await database.db
      .selectFrom('platform_organizations')
      .select('organization_id')
      .where('platform_id', '=', fx.platformId)
      .executeTakeFirstOrThrow();
    const orgToken = (
      await createApiToken(database.db, { kind: 'org', name: 'o', organizationId: org.organization_id })
    ).token;
    const providerToken = (
      await createApiToken(database.db, { kind: 'provider', name: 'p', providerId: fx.providerId })
    ).token;
    const call = async (path: string, init: RequestInit = {}) => {
      const response = await fetch(`${broker.url}${path}`, init);
      return { status: response.status, retryAfter: response.headers.get('retry-after'), body: await response.json() };
    };
    const basic = `Basic ${Buffer.from(`${fx.osbUsername}:${fx.osbPassword}`).toString('base64')}`;
    return {
      osb: () => call('/v2/catalog', { headers: { authorization: basic, 'x-broker-api-version': '2.17' } }),
      apps: () => call('/v1/apps', { headers: { authorization: `Bearer ${orgToken}` } }),
      billing: () => call('/v1/billing/account', { headers: { authorization: `Bearer ${orgToken}` } }),
      provider: () =>
        call('/v1/provider/usage', {
          method: 'POST',
          headers: { authorization: `Bearer ${providerToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            records: [
              {
                idempotencyKey: 'k',
                instanceId: '00000000-0000-4000-8000-000000000001',
                unit: 't',
                quantity: 1,
                at: 'x',
              },
            ],
          }),
        }),
    };
  }

  async function expectUnavailable(api: Awaited<ReturnType<typeof callers>>) {
    const osb = await api.osb();
    expect(osb).toEqual({
      status: 503,
      retryAfter: '5',
      body: { error: 'ServiceUnavailable', description: expect.stringMatching(/database/) },
    });
    const provider = await api.provider();
    expect(provider).toMatchObject({ status: 503, retryAfter: '5', body: { error: 'ServiceUnavailable' } });
    for (const answer of [await api.apps(), await api.billing()]) {
      expect(answer).toEqual({
        status: 503,
        retryAfter: '5',
        body: { error: 'unavailable', message: expect.stringMatching(/database/) },
      });
    }
  }

  it.runIf(serverUrl('TEST_DATABASE_URL', 'database outage on PostgreSQL'))(
    'PostgreSQL: connections dropped and refused answer 503, and the broker recovers with the database',
    async () => {
      const scratch = await createScratchDatabase(process.env.TEST_DATABASE_URL as string);
      cleanup.push(() => scratch.drop());
      const direct = await openDatabase({ kind: 'postgres', url: scratch.url });
      cleanup.push(() => direct.close());
      await migrateToLatest(direct.db);
      const url = new URL(scratch.url);
      const relay = await startRelay({ host: url.hostname, port: Number(url.port || 5432) });
      cleanup.push(() => relay.cut());
      url.host = `127.0.0.1:${relay.port}`;
      const relayed = await openDatabase({ kind: 'postgres', url: url.toString() });
      cleanup.push(() => relayed.close());
      const broker = await startTestBroker(relayed, { BROKER_WORKERS: 'false' });
      cleanup.push(() => broker.close());
      const fx = await seedCatalog(direct.db, broker.secretBox, {
        providerUrl: 'http://127.0.0.1:9',
        auth: { kind: 'basic', username: 'u', password: 'p' },
        plans: [{ slug: 'small' }],
      });
      const api = await callers(broker, direct, fx);
      expect((await api.osb()).status).toBe(200);
      expect((await api.apps()).status).toBe(200);

      await relay.cut();
      await expectUnavailable(api);

      await relay.restore();
      expect((await api.osb()).status).toBe(200);
      expect((await api.apps()).status).toBe(200);
    },
  );

  it('PGlite: a closed embedded database answers 503', async () => {
    const [pglite] = testDatabaseKinds('database outage');
    const database = await (pglite as { open(): Promise<Database> }).open();
    cleanup.push(() => database.close());
    const broker = await startTestBroker(database, { BROKER_WORKERS: 'false' });
    cleanup.push(() => broker.close());
    const fx = await seedCatalog(database.db, broker.secretBox, {
      providerUrl: 'http://127.0.0.1:9',
      auth: { kind: 'basic', username: 'u', password: 'p' },
      plans: [{ slug: 'small' }],
    });
    const api = await callers(broker, database, fx);
    expect((await api.osb()).status).toBe(200);
    expect((await api.apps()).status).toBe(200);

    await database.client?.close();
    await expectUnavailable(api);
  });
});
