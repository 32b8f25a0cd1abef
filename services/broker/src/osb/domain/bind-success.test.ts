import { randomUUID } from 'node:crypto';
import type { Database } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../../shared/domain/context.js';
import {
  type CatalogFixture,
  type FakeProvider,
  type OsbClient,
  osbClient,
  seedCatalog,
  startFakeProvider,
  startTestBroker,
  type TestBroker,
} from '../../testing.js';
import { bindInstance } from './bindings.js';

// Work that goes with a bind's success (the apps layer writing an app's vars) runs in the
// transaction that records the success; the binding never depends on it.
describe.each(testDatabaseKinds('work with a bind'))('work that goes with a bind ($name)', (kind) => {
  let database: Database;
  let provider: FakeProvider;
  let broker: TestBroker;
  let fx: CatalogFixture;
  let osb: OsbClient;
  let caller: Caller;

  beforeAll(async () => {
    database = await kind.open();
    provider = await startFakeProvider({ auth: { kind: 'basic', username: 'broker', password: 'pw' } });
    broker = await startTestBroker(database);
    fx = await seedCatalog(database.db, broker.secretBox, {
      providerUrl: provider.url,
      auth: { kind: 'basic', username: 'broker', password: 'pw' },
      plans: [{ slug: 'standard' }],
    });
    osb = osbClient(broker.url, { username: fx.osbUsername, password: fx.osbPassword });
    caller = {
      platformId: fx.platformId,
      tokenId: null,
      organizations: [],
      originatingIdentity: null,
      requestIdentity: null,
    };
  });
  afterAll(async () => {
    await broker?.close();
    await provider?.close();
    await database?.close();
  });

  const provisioned = async () => {
    const id = `bind-work-${randomUUID()}`;
    const answer = await osb('PUT', `/v2/service_instances/${id}`, {
      service_id: fx.serviceOsbId,
      plan_id: fx.plans.standard?.osbId,
      organization_guid: 'o',
      space_guid: 's',
    });
    expect(answer.status).toBe(201);
    return id;
  };
  const bind = (
    instanceId: string,
    bindingId: string,
    withBound: NonNullable<Parameters<typeof bindInstance>[2]['withBound']>,
  ) =>
    bindInstance(broker.broker.context, caller, {
      instanceId,
      bindingId,
      serviceId: fx.serviceOsbId,
      planId: fx.plans.standard?.osbId as string,
      appGuid: 'app',
      bindResource: { app_guid: 'app' },
      parameters: {},
      context: {},
      predecessorBindingId: undefined,
      acceptsIncomplete: true,
      withBound,
    });
  const bindingState = async (id: string) =>
    (await database.db.selectFrom('service_bindings').select('state').where('id', '=', id).executeTakeFirstOrThrow())
      .state;

  it('runs with the answer in the transaction that records the binding, after it', async () => {
    const instanceId = await provisioned();
    const bindingId = randomUUID();
    let seen: { answer: Record<string, unknown>; state: string } | undefined;
    const outcome = await bind(instanceId, bindingId, async (trx, answer) => {
      const row = await trx
        .selectFrom('service_bindings')
        .select('state')
        .where('id', '=', bindingId)
        .executeTakeFirstOrThrow();
      seen = { answer, state: row.state };
    });
    expect(outcome.kind).toBe('created');
    // The answer is what the provider answered, as the broker stored it (no read back needed).
    const body = (outcome as { body: Record<string, unknown> }).body;
    expect(body.credentials).toEqual({ uri: `fake://user:secret@db.test/${await providerBindingId(bindingId)}` });
    expect(body.endpoints).toEqual([{ host: 'db.test', ports: ['5432'], protocol: 'tcp' }]);
    expect(seen).toEqual({ answer: body, state: 'bound' });
  });

  it('records the binding and answers it when that work fails, and keeps none of what it wrote', async () => {
    const instanceId = await provisioned();
    const bindingId = randomUUID();
    const outcome = await bind(instanceId, bindingId, async (trx) => {
      await trx
        .updateTable('service_bindings')
        .set({ details: '{"written":true}' })
        .where('id', '=', bindingId)
        .execute();
      await sql`select 1 / 0`.execute(trx);
    });
    expect(outcome.kind).toBe('created');
    expect(await bindingState(bindingId)).toBe('bound');
    const stored = await database.db
      .selectFrom('service_bindings')
      .select('details')
      .where('id', '=', bindingId)
      .executeTakeFirstOrThrow();
    expect(stored.details).not.toHaveProperty('written');
    const op = await database.db
      .selectFrom('broker_operations')
      .select('state')
      .where('binding_id', '=', bindingId)
      .executeTakeFirstOrThrow();
    expect(op.state).toBe('succeeded');
  });

  const providerBindingId = async (id: string) =>
    (
      await database.db
        .selectFrom('service_bindings')
        .select('provider_binding_id')
        .where('id', '=', id)
        .executeTakeFirstOrThrow()
    ).provider_binding_id;
});
