import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApiToken, type Database } from '@annex/platform';
import { captureLogs, testDatabaseKinds } from '@annex/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CatalogFixture, seedCatalog, startTestBroker, type TestBroker } from '../testing.js';

/** A URL where nothing listens: a provider that is down. */
async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await new Promise((resolve) => server.close(resolve));
  return url;
}

// An operator reads a failed provider call in the logs at warn, with what it was for.
describe.each(testDatabaseKinds('provider failure logs'))('provider failure logs ($name)', (kind) => {
  let database: Database;
  let broker: TestBroker;
  let fx: CatalogFixture;
  let token: string;
  const logs = captureLogs('broker', 'info');

  beforeAll(async () => {
    database = await kind.open();
    broker = await startTestBroker(database, { APPS_RECONCILE_MS: '50' }, undefined, logs.logger);
    fx = await seedCatalog(database.db, broker.secretBox, {
      providerUrl: await deadUrl(),
      auth: { kind: 'basic', username: 'u', password: 'p' },
      plans: [{ slug: 'small', free: true }],
    });
    const org = await database.db
      .selectFrom('platform_organizations')
      .select('organization_id')
      .where('platform_id', '=', fx.platformId)
      .executeTakeFirstOrThrow();
    token = (await createApiToken(database.db, { kind: 'org', name: 'o', organizationId: org.organization_id })).token;
  });
  afterAll(async () => {
    await broker?.close();
    await database?.close();
  });

  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${broker.url}/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as any };
  };

  it('logs an unreachable provider at warn with the add-on, the provider and the operation', async () => {
    const service = await database.db
      .selectFrom('services')
      .select('slug')
      .where('id', '=', fx.serviceId)
      .executeTakeFirstOrThrow();
    expect((await call('POST', '/apps', { name: `down-${kind.name}` })).status).toBe(201);
    const created = await call('POST', `/apps/down-${kind.name}/addons`, { plan: `${service.slug}:small` });
    const addon = created.body.addon?.name as string;
    expect(addon, JSON.stringify(created.body)).toMatch(new RegExp(`^${service.slug}-`));

    const failure = () => logs.records().find((r) => r.msg?.toString().startsWith('provider call failed'));
    for (let i = 0; i < 100 && !failure(); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(failure()).toMatchObject({
      level: 40,
      service: 'broker',
      addon,
      provider: fx.providerSlug,
      operation: expect.any(String),
      kind: 'provision',
      reason: expect.stringMatching(new RegExp(`^provider ${fx.providerSlug} unreachable: .*ECONNREFUSED`)),
    });
    // Every line names its service once.
    expect(logs.lines.filter((line) => line.match(/"service":/g)?.length !== 1)).toEqual([]);
  });
});
