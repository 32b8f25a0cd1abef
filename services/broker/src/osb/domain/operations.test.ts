import type { Database } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAudit } from '../../shared/domain/audit.js';
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
} from '../../testing.js';
import { claimDueOperations } from '../db/operations.js';
import { ProviderClient } from './provider-client.js';

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, attempts = 150): Promise<T> {
  let value = await read();
  for (let i = 0; i < attempts && !done(value); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    value = await read();
  }
  return value;
}

describe.each(testDatabaseKinds('broker operation leases'))('operation leases ($name)', (kind) => {
  it('leases rows to one claimant at a time and retakes them once the lease expires', async () => {
    const database = await kind.open();
    const provider = await database.db
      .insertInto('providers')
      .values({ slug: 'lease-provider', name: 'Lease provider', osb_url: 'http://127.0.0.1:9' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const rows = Array.from({ length: 10 }, (_, i) => ({
      kind: 'orphan_deprovision' as const,
      instance_id: `lease-${i}`,
      provider_id: provider.id,
      state: 'pending' as const,
      request: '{}',
      next_attempt_at: new Date(0),
    }));
    const inserted = await database.db.insertInto('broker_operations').values(rows).returning('id').execute();
    const ids = inserted.map((r) => r.id);
    const [a, b] = await Promise.all([
      claimDueOperations(database.db, 'replica-a', 60_000, 6),
      claimDueOperations(database.db, 'replica-b', 60_000, 6),
    ]);
    const claimedByA = a.filter((r) => ids.includes(r.id)).map((r) => r.id);
    const claimedByB = b.filter((r) => ids.includes(r.id)).map((r) => r.id);
    expect(claimedByA.filter((id) => claimedByB.includes(id))).toEqual([]);
    expect(claimedByA.length + claimedByB.length).toBe(10);
    const leased = await database.db
      .selectFrom('broker_operations')
      .select(['id', 'lease_owner'])
      .where('id', 'in', ids)
      .execute();
    expect(leased.every((r) => r.lease_owner !== null)).toBe(true);
    expect((await claimDueOperations(database.db, 'replica-c', 60_000, 100)).filter((r) => ids.includes(r.id))).toEqual(
      [],
    );
    // replica-a dies: its leases run out and another replica takes the rows over.
    await database.db
      .updateTable('broker_operations')
      .set({ lease_expires_at: new Date(Date.now() - 1_000) })
      .where('lease_owner', '=', 'replica-a')
      .execute();
    const retaken = (await claimDueOperations(database.db, 'replica-c', 60_000, 100)).filter((r) => ids.includes(r.id));
    expect(retaken.map((r) => r.id).sort()).toEqual(claimedByA.sort());
    expect(retaken.every((r) => r.attempts === 2)).toBe(true);
    await database.close();
  });
});

describe.each(testDatabaseKinds('broker operations'))('durable operations ($name)', (kind) => {
  let database: Database;
  let provider: FakeProvider;
  let broker: TestBroker;
  let fx: CatalogFixture;
  let osb: OsbClient;

  beforeAll(async () => {
    database = await kind.open();
    provider = await startFakeProvider({ auth: { kind: 'basic', username: 'broker', password: 'pw' }, failDeletes: 2 });
    broker = await startTestBroker(database);
    fx = await seedCatalog(database.db, broker.secretBox, {
      providerUrl: provider.url,
      auth: { kind: 'basic', username: 'broker', password: 'pw' },
      plans: [
        { slug: 'fail500' },
        { slug: 'endless', maximumPollingDuration: 1 },
        { slug: 'patient' },
        { slug: 'bindfail' },
      ],
    });
    provider.options.modes = {
      [fx.plans.fail500?.osbId as string]: 'fail500',
      [fx.plans.endless?.osbId as string]: 'async',
      [fx.plans.patient?.osbId as string]: 'async',
    };
    provider.options.bindModes = { [fx.plans.bindfail?.osbId as string]: 'fail500' };
    osb = osbClient(broker.url, { username: fx.osbUsername, password: fx.osbPassword });
  });

  afterAll(async () => {
    await broker?.close();
    await provider?.close();
    await database?.close();
  });

  const body = (plan: string) => ({
    service_id: fx.serviceOsbId,
    plan_id: fx.plans[plan]?.osbId,
    organization_guid: 'o',
    space_guid: 's',
  });
  const providerIdOf = async (id: string) =>
    (
      await database.db
        .selectFrom('service_instances')
        .select('provider_instance_id')
        .where('id', '=', id)
        .executeTakeFirstOrThrow()
    ).provider_instance_id as string;

  it('repeats orphan mitigation until the provider confirms the delete, and records it', async () => {
    const id = `orphan-${Date.now()}`;
    expect((await osb('PUT', `/v2/service_instances/${id}`, body('fail500'))).status).toBe(502);
    const providerId = await providerIdOf(id);
    await eventually(
      async () => provider.instances.has(providerId),
      (present) => !present,
    );
    expect(provider.instances.has(providerId)).toBe(false);
    // The provider forgets the instance before the broker records its answer: wait for both.
    const orphan = await eventually(
      () =>
        database.db
          .selectFrom('broker_operations')
          .selectAll()
          .where('instance_id', '=', id)
          .where('kind', '=', 'orphan_deprovision')
          .executeTakeFirstOrThrow(),
      (op) => op.state === 'succeeded',
    );
    expect(orphan.state).toBe('succeeded');
    expect(orphan.attempts).toBeGreaterThanOrEqual(3);
    const actions = (await listAudit(database.db, { instanceId: id })).map((a) => `${a.action}:${a.result}`);
    expect(actions).toEqual([
      'provision.requested:pending',
      'provision.failed:failed',
      'orphan_deprovision.requested:pending',
      'orphan_deprovision.succeeded:succeeded',
    ]);
  });

  it('fails a provision whose provider URL is in a closed private network at once, with nothing to mitigate', async () => {
    const ctx = broker.broker.context;
    const open = ctx.providers;
    ctx.providers = new ProviderClient(ctx.signer, ctx.secretBox, 5_000, { allowPrivateNetworks: false });
    try {
      const id = `refused-${Date.now()}`;
      const calls = provider.requests.length;
      const answer = await osb('PUT', `/v2/service_instances/${id}`, body('patient'));
      expect(answer.status).toBe(502);
      expect(answer.body.description).toMatch(/OSB URL must not point to a loopback, private or reserved address/);
      expect(provider.requests.length).toBe(calls);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const operations = await database.db
        .selectFrom('broker_operations')
        .select(['kind', 'state'])
        .where('instance_id', '=', id)
        .execute();
      expect(operations).toEqual([{ kind: 'provision', state: 'failed' }]);
    } finally {
      ctx.providers.close();
      ctx.providers = open;
    }
  });

  it('keeps polling an accepted provision through a refused poll: the provider may already hold it', async () => {
    const ctx = broker.broker.context;
    const open = ctx.providers;
    const id = `refused-poll-${Date.now()}`;
    const accepted = await osb('PUT', `/v2/service_instances/${id}?accepts_incomplete=true`, body('patient'));
    expect(accepted.status).toBe(202);
    // The provider's name now resolves privately (or the policy was closed): polls are refused.
    const closed = new ProviderClient(ctx.signer, ctx.secretBox, 5_000, { allowPrivateNetworks: false });
    ctx.providers = closed;
    let refusedPolls: { state: string; description: string | null };
    try {
      refusedPolls = await eventually(
        () =>
          database.db
            .selectFrom('broker_operations')
            .select(['state', 'description'])
            .where('instance_id', '=', id)
            .where('kind', '=', 'provision')
            .executeTakeFirstOrThrow(),
        (op) => op.state !== 'polling' || /loopback, private or reserved/.test(op.description ?? ''),
      );
    } finally {
      ctx.providers = open;
      closed.close();
    }
    expect(refusedPolls.state).toBe('polling');
    expect(refusedPolls.description).toMatch(/loopback, private or reserved/);
    // Reachable again: the provision finishes as the provider reports it, nothing to clean up.
    const done = await waitForOperation(osb, `/v2/service_instances/${id}/last_operation`);
    expect(done.body.state).toBe('succeeded');
    const kinds = await database.db
      .selectFrom('broker_operations')
      .select('kind')
      .where('instance_id', '=', id)
      .execute();
    expect(kinds.map((k) => k.kind)).toEqual(['provision']);
  });

  it('gives up polling at maximum_polling_duration and cleans up at the provider', async () => {
    provider.options.asyncPolls = 1_000_000;
    try {
      const id = `endless-${Date.now()}`;
      const accepted = await osb('PUT', `/v2/service_instances/${id}?accepts_incomplete=true`, body('endless'));
      expect(accepted.status).toBe(202);
      const done = await waitForOperation(osb, `/v2/service_instances/${id}/last_operation`);
      expect(done.body.state).toBe('failed');
      expect(done.body.description).toMatch(/maximum_polling_duration \(last: .+\)$/);
      const providerId = await providerIdOf(id);
      await eventually(
        async () => provider.instances.has(providerId),
        (present) => !present,
      );
      expect(provider.instances.has(providerId)).toBe(false);
    } finally {
      provider.options.asyncPolls = 2;
    }
  });

  it("keeps the dashboard_url of an async provision's 202: for the platform at once, and on the instance", async () => {
    const id = `dashboard-${Date.now()}`;
    const path = `/v2/service_instances/${id}?accepts_incomplete=true`;
    const accepted = await osb('PUT', path, body('patient'));
    expect(accepted.status).toBe(202);
    const dashboard = `http://dashboard.test/${await providerIdOf(id)}`;
    expect(accepted.body).toEqual({
      operation: expect.any(String),
      dashboard_url: dashboard,
      metadata: { labels: { tier: 'test' } },
    });
    // A re-PUT says the same, whether the provision is still running (202) or done (200).
    const again = await osb('PUT', path, body('patient'));
    expect([200, 202]).toContain(again.status);
    expect(again.body.dashboard_url).toBe(dashboard);
    const done = await waitForOperation(osb, `/v2/service_instances/${id}/last_operation`);
    expect(done.body.state).toBe('succeeded');
    const fetched = await osb('GET', `/v2/service_instances/${id}`);
    expect(fetched.status).toBe(200);
    expect(fetched.body.dashboard_url).toBe(dashboard);
    expect((await osb('PUT', path, body('patient'))).body).toEqual({ dashboard_url: dashboard });
  });

  it("honours the provider's Retry-After when polling", async () => {
    provider.options.retryAfterSeconds = 30;
    try {
      const id = `patient-${Date.now()}`;
      const accepted = await osb('PUT', `/v2/service_instances/${id}?accepts_incomplete=true`, body('patient'));
      expect(accepted.status).toBe(202);
      const op = await eventually(
        () =>
          database.db
            .selectFrom('broker_operations')
            .selectAll()
            .where('id', '=', accepted.body.operation)
            .executeTakeFirstOrThrow(),
        (row) => row.description === 'working',
      );
      expect(op.state).toBe('polling');
      expect(op.next_attempt_at.getTime() - op.updated_at.getTime()).toBeGreaterThanOrEqual(29_000);
      const polled = await osb('GET', `/v2/service_instances/${id}/last_operation`);
      expect(Number(polled.headers.get('retry-after'))).toBeGreaterThanOrEqual(20);
    } finally {
      provider.options.retryAfterSeconds = undefined;
    }
  });

  it('unbinds an orphaned binding after a provider 500 on bind', async () => {
    const id = `bindfail-${Date.now()}`;
    expect((await osb('PUT', `/v2/service_instances/${id}`, body('bindfail'))).status).toBe(201);
    const bound = await osb('PUT', `/v2/service_instances/${id}/service_bindings/${id}-b`, {
      service_id: fx.serviceOsbId,
      plan_id: fx.plans.bindfail?.osbId,
    });
    expect(bound.status).toBe(502);
    const providerBindingId = (
      await database.db
        .selectFrom('service_bindings')
        .select('provider_binding_id')
        .where('id', '=', `${id}-b`)
        .executeTakeFirstOrThrow()
    ).provider_binding_id;
    expect(provider.bindingCreations.get(providerBindingId)).toBe(1);
    await eventually(
      async () => provider.bindings.has(providerBindingId),
      (present) => !present,
    );
    expect(provider.bindings.has(providerBindingId)).toBe(false);
    const unbind = await osb(
      'DELETE',
      `/v2/service_instances/${id}/service_bindings/${id}-b?service_id=${fx.serviceOsbId}&plan_id=${fx.plans.bindfail?.osbId}`,
    );
    expect(unbind.status).toBe(200);
  });
});
