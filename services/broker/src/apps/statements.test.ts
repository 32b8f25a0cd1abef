import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApiToken, createLogger, type Database, SecretBox } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBroker } from '../app.js';
import { loadBrokerConfig } from '../config.js';
import { TtlCache } from '../shared/domain/cache.js';
import { type FakeProvider, seedCatalog, startFakeProvider } from '../testing.js';

// What creating and attaching an add-on cost in statements, counted by the database handle
// around each request. The broker's background work is not started, so every statement counted
// is the request's own; its plan and provider caches keep what they hold for the whole file, so a
// count does not depend on how long a request took. The bounds fail when a change adds statements
// to these paths.
const CREATE_STATEMENTS = 45;
const ATTACH_STATEMENTS = 40;

describe.each(testDatabaseKinds('add-on statements'))('statements per add-on request ($name)', (kind) => {
  let database: Database;
  let provider: FakeProvider;
  let server: Server;
  let url: string;
  let token: string;
  let plan: string;
  let providerCallsPending: () => number;

  const counted = async (path: string, body: unknown): Promise<{ statements: number; answer: any }> => {
    const before = database.statementCount();
    const response = await fetch(`${url}/v1${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const answer = await response.json();
    expect(response.status, JSON.stringify(answer)).toBe(201);
    return { statements: database.statementCount() - before, answer };
  };

  beforeAll(async () => {
    database = await kind.open();
    provider = await startFakeProvider({ auth: { kind: 'basic', username: 'u', password: 'p' } });
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const secretBox = SecretBox.fromSpec(SecretBox.generateSpec());
    const broker = createBroker(loadBrokerConfig({ BROKER_PUBLIC_URL: url, LOG_LEVEL: 'silent' }), {
      database,
      logger: createLogger('broker', 'silent'),
      secretBox,
    });
    broker.context.caches = { plans: new TtlCache(3_600_000), providers: new TtlCache(3_600_000) };
    providerCallsPending = () => broker.providerCalls.pending;
    server.on('request', broker.app);
    const fx = await seedCatalog(database.db, secretBox, {
      providerUrl: provider.url,
      auth: { kind: 'basic', username: 'u', password: 'p' },
      plans: [{ slug: 'small', free: true }],
    });
    const service = await database.db
      .selectFrom('services')
      .select('slug')
      .where('id', '=', fx.serviceId)
      .executeTakeFirstOrThrow();
    plan = `${service.slug}:small`;
    const org = await database.db
      .selectFrom('platform_organizations')
      .select('organization_id')
      .where('platform_id', '=', fx.platformId)
      .executeTakeFirstOrThrow();
    await database.db
      .insertInto('apps')
      .values(Array.from({ length: 12 }, (_, i) => ({ name: `counted-${i}`, organization_id: org.organization_id })))
      .execute();
    token = (await createApiToken(database.db, { kind: 'org', name: 'o', organizationId: org.organization_id })).token;
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await provider?.close();
    await database?.close();
  });

  it('creates an add-on in a bounded number of statements, the same for the first and the sixth', async () => {
    const costs: number[] = [];
    for (let i = 0; i < 6; i++) {
      const { statements, answer } = await counted(`/apps/counted-${i}/addons`, { plan });
      expect(answer.attachment.state).toBe('attached');
      costs.push(statements);
    }
    // The first request also fills the caches and looks up the apps platform's id.
    expect(costs[1]).toBeLessThanOrEqual(CREATE_STATEMENTS);
    expect(new Set(costs.slice(1)).size, costs.join(', ')).toBe(1);
    // Each provision and bind was recorded for the provider's health, in memory: the record is
    // written in batches by a started broker, never by the request.
    expect(providerCallsPending()).toBeGreaterThanOrEqual(12);
  });

  it('attaches one add-on to app after app in the same number of statements', async () => {
    const { answer } = await counted('/apps/counted-6/addons', { plan });
    const addon = answer.addon.name as string;
    const costs: number[] = [];
    for (let i = 7; i < 12; i++) {
      const attached = await counted(`/apps/counted-${i}/attachments`, { addon, as: 'SHARED' });
      expect(attached.answer.attachment.state).toBe('attached');
      costs.push(attached.statements);
    }
    expect(costs[0]).toBeLessThanOrEqual(ATTACH_STATEMENTS);
    expect(new Set(costs).size, costs.join(', ')).toBe(1);
  });
});
