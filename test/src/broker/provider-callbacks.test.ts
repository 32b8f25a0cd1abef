import { listAudit } from '@annex/broker';
import {
  type CatalogFixture,
  type FakeProvider,
  type OsbClient,
  osbClient,
  seedCatalog,
  startFakeProvider,
  startTestBroker,
  type TestBroker,
  waitForOperation,
} from '@annex/broker/testing';
import { createApiToken, type Database } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// A provider tells the broker an async operation has ended (docs/provider-protocol.md §3).
describe.each(testDatabaseKinds('provider callbacks'))('provider callbacks ($name)', (kind) => {
  let database: Database;
  let provider: FakeProvider;
  let broker: TestBroker;
  let fx: CatalogFixture;
  let osb: OsbClient;
  let providerToken: string;

  beforeAll(async () => {
    database = await kind.open();
    // The provider asks to be polled again only in a minute: without the callback the
    // operation would stay in progress for the whole test.
    provider = await startFakeProvider({
      auth: { kind: 'jwt', audience: 'pending' },
      retryAfterSeconds: 60,
      asyncPolls: 1000,
    });
    broker = await startTestBroker(database);
    provider.options.brokerUrl = broker.url;
    fx = await seedCatalog(database.db, broker.secretBox, {
      providerUrl: provider.url,
      auth: { kind: 'jwt' },
      plans: [{ slug: 'async', maximumPollingDuration: 600 }],
    });
    provider.options.auth = { kind: 'jwt', audience: fx.providerSlug };
    provider.options.modes = { [fx.plans.async?.osbId as string]: 'async' };
    osb = osbClient(broker.url, { username: fx.osbUsername, password: fx.osbPassword });
    providerToken = (await createApiToken(database.db, { kind: 'provider', name: 'p', providerId: fx.providerId }))
      .token;
  });
  afterAll(async () => {
    await broker?.close();
    await provider?.close();
    await database?.close();
  });

  const complete = (operation: string, body: unknown, token = providerToken) =>
    fetch(`${broker.url}/v1/provider/operations/${encodeURIComponent(operation)}/complete`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });

  it('a reported end makes the broker poll at once, and the platform sees what last_operation says', async () => {
    const instance = `cb-${Math.random().toString(36).slice(2, 10)}`;
    const started = await osb('PUT', `/v2/service_instances/${instance}?accepts_incomplete=true`, {
      service_id: fx.serviceOsbId,
      plan_id: fx.plans.async?.osbId,
      organization_guid: 'o',
      space_guid: 's',
    });
    expect(started.status).toBe(202);
    const row = await database.db
      .selectFrom('service_instances')
      .select('provider_instance_id')
      .where('id', '=', instance)
      .executeTakeFirstOrThrow();
    const providerId = row.provider_instance_id as string;
    const polls = () =>
      provider.requests.filter((r) => r.method === 'GET' && r.path.includes(`${providerId}/last_operation`)).length;
    // Wait for the broker's first poll, which the provider answers "in progress, ask in 60 s".
    for (let i = 0; i < 100 && polls() === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(polls()).toBeGreaterThan(0);

    const fake = provider.instances.get(providerId);
    if (!fake) throw new Error('the provider holds no such instance');
    fake.pollsLeft = 0; // the provider finished its work
    const reported = await complete(`provision-${providerId}`, { state: 'succeeded', description: 'ready' });
    expect(reported.status).toBe(202);
    expect(await reported.json()).toEqual({ operations: 1 });

    const last = await waitForOperation(osb, `/v2/service_instances/${instance}/last_operation`, 60, 100);
    expect(last.body.state).toBe('succeeded');
    const audit = await listAudit(database.db, { instanceId: instance });
    expect(audit.map((a) => a.action)).toContain('provision.succeeded');
    const reports = await listAudit(database.db, {});
    expect(reports.some((a) => a.action === 'operation.end_reported' && a.result === 'succeeded')).toBe(true);
  });

  it('refuses callers that are not providers, unknown operations and bad bodies, changing nothing', async () => {
    expect((await complete('provision-x', { state: 'succeeded' }, '')).status).toBe(401);
    const platformToken = (
      await createApiToken(database.db, { kind: 'platform', name: 'x', platformId: fx.platformId })
    ).token;
    expect((await complete('provision-x', { state: 'succeeded' }, platformToken)).status).toBe(401);
    const unknown = await complete('provision-nothing', { state: 'succeeded' });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { description: string }).description).toMatch(/no operation "provision-nothing"/);
    const bad = await complete('provision-x', { state: 'done' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { description: string }).description).toMatch(/^state:/);
  });
});
