import { createScratchDatabase, serverUrl } from '@annex/platform/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { osbClient, waitForOperation } from '../__fixtures__/client.js';
import { widgetsProvider } from '../__fixtures__/widgets.js';
import { startConformanceBroker } from '../conformance/index.js';
import { type InstanceRecord, MemoryReplayStore, MemoryStore, type ProviderStore, type ReplayStore } from '../index.js';
import { PostgresReplayStore, PostgresStore } from './postgres.js';

interface StoreKind {
  name: string;
  open(): Promise<{ store: ProviderStore; second: () => ProviderStore; dispose(): Promise<void> }>;
}

const kinds: StoreKind[] = [
  {
    name: 'memory',
    async open() {
      const store = new MemoryStore();
      return { store, second: () => store, dispose: async () => {} };
    },
  },
];
const databaseUrl = serverUrl('TEST_DATABASE_URL', 'PostgresStore');
if (databaseUrl) {
  kinds.push({
    name: 'postgres',
    async open() {
      const scratch = await createScratchDatabase(databaseUrl);
      const stores: PostgresStore[] = [];
      const make = () => {
        const store = new PostgresStore({ connectionString: scratch.url });
        stores.push(store);
        return store;
      };
      const store = make();
      await store.init();
      return {
        store,
        second: make,
        async dispose() {
          for (const s of stores) await s.close();
          await scratch.drop();
        },
      };
    },
  });
}

const instance = (id: string, state: InstanceRecord['state'] = 'creating'): InstanceRecord => ({
  id,
  serviceId: 's',
  planId: 'p',
  organizationGuid: 'o',
  spaceGuid: 'sp',
  parameters: { size: 1 },
  context: {},
  maintenanceInfo: null,
  dashboardUrl: null,
  metadata: null,
  state,
  operation: null,
  createdAt: new Date().toISOString(),
  updatedAt: new Date().toISOString(),
});

describe.each(kinds)('$name store', (kind) => {
  const disposers: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const dispose of disposers) await dispose();
  });

  it('lets exactly one of two concurrent inserts win, and reuses a deleted id', async () => {
    const { store, dispose } = await kind.open();
    disposers.push(dispose);
    const results = await Promise.all([store.insertInstance(instance('a')), store.insertInstance(instance('a'))]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await store.insertInstance(instance('a'))).toBe(false);
    await store.saveInstance({ ...instance('a'), state: 'deleted' });
    expect(await store.insertInstance({ ...instance('a'), planId: 'p2' })).toBe(true);
    expect((await store.getInstance('a'))?.planId).toBe('p2');
    await store.removeInstance('a');
    expect(await store.getInstance('a')).toBeUndefined();

    await store.saveOperation({
      instanceId: 'a',
      bindingId: null,
      operation: 'op',
      kind: 'provision',
      state: 'in progress',
      description: null,
      instanceUsable: null,
      updateRepeatable: null,
      pending: { planId: 'p2' },
      createdAt: '',
      updatedAt: '',
    });
    expect((await store.getOperation('a', null, 'op'))?.pending).toEqual({ planId: 'p2' });
    expect(await store.getOperation('a', 'b', 'op')).toBeUndefined();
  });

  it('lets two provider replicas share the protocol state', async () => {
    const { store, second, dispose } = await kind.open();
    disposers.push(dispose);
    const broker = await startConformanceBroker();
    // The first provision stays in progress until the test has seen it from both replicas.
    let press!: () => void;
    const gate = new Promise<void>((resolve) => {
      press = resolve;
    });
    const a = widgetsProvider({ brokerUrl: broker.url, store, gate });
    const b = widgetsProvider({ brokerUrl: broker.url, store: second() });
    const runA = await a.provider.listen(0);
    const runB = await b.provider.listen(0);
    try {
      const callA = osbClient(runA.url, broker, 'widgets-inc');
      const callB = osbClient(runB.url, broker, 'widgets-inc');
      const body = { service_id: 'svc-widgets', plan_id: 'plan-large', organization_guid: 'o', space_guid: 's' };
      const ids = { service_id: 'svc-widgets', plan_id: 'plan-large' };
      const created = await callA('PUT', '/v2/service_instances/shared', {
        body,
        query: { accepts_incomplete: 'true' },
      });
      expect(created.status).toBe(202);
      // Replica B sees the operation replica A started, and its end.
      const redelivered = await callB('PUT', '/v2/service_instances/shared', {
        body,
        query: { accepts_incomplete: 'true' },
      });
      expect(redelivered.body.operation).toBe(created.body.operation);
      press();
      const done = await waitForOperation(callB, '/v2/service_instances/shared', {
        ...ids,
        operation: created.body.operation,
      });
      expect(done.body.state).toBe('succeeded');
      expect((await callB('PUT', '/v2/service_instances/shared', { body })).status).toBe(200);
      expect((await callB('PUT', '/v2/service_instances/shared', { body: { ...body, space_guid: 'x' } })).status).toBe(
        409,
      );
      expect((await callB('DELETE', '/v2/service_instances/shared', { query: ids })).status).toBe(200);
      expect((await callA('DELETE', '/v2/service_instances/shared', { query: ids })).status).toBe(410);
      expect(a.log.provisioned).toEqual(['shared']);
      expect(b.log.provisioned).toEqual([]);

      // The same provision delivered to both replicas at once is provisioned exactly once.
      const small = { ...body, plan_id: 'plan-small', parameters: { size: 1 } };
      const ids10 = Array.from({ length: 10 }, (_, i) => `race-${i}`);
      const answers = await Promise.all(
        ids10.flatMap((id) => [
          callA('PUT', `/v2/service_instances/${id}`, { body: small }),
          callB('PUT', `/v2/service_instances/${id}`, { body: small }),
        ]),
      );
      for (let i = 0; i < ids10.length; i++) {
        const pair = [answers[2 * i]?.status, answers[2 * i + 1]?.status].sort();
        expect([
          [200, 201],
          [201, 422],
        ]).toContainEqual(pair);
      }
      expect([...a.log.provisioned, ...b.log.provisioned].filter((id) => id.startsWith('race-')).sort()).toEqual(
        [...ids10].sort(),
      );
    } finally {
      await runA.close();
      await runB.close();
      await broker.close();
    }
  });
});

const replayKinds: {
  name: string;
  open(): Promise<{ store: ReplayStore; other: ReplayStore; dispose(): Promise<void> }>;
}[] = [
  {
    name: 'memory',
    async open() {
      const store = new MemoryReplayStore();
      return { store, other: store, dispose: async () => {} };
    },
  },
];
if (databaseUrl) {
  replayKinds.push({
    name: 'postgres',
    async open() {
      const scratch = await createScratchDatabase(databaseUrl);
      const store = new PostgresReplayStore({ connectionString: scratch.url });
      const other = new PostgresReplayStore({ connectionString: scratch.url });
      return {
        store,
        other,
        async dispose() {
          await store.close();
          await other.close();
          await scratch.drop();
        },
      };
    },
  });
}

describe.each(replayKinds)('$name replay store', (kind) => {
  it('accepts a token id once, across replicas, even when claimed concurrently', async () => {
    const { store, other, dispose } = await kind.open();
    try {
      const exp = Math.floor(Date.now() / 1000) + 60;
      const first = await Promise.all([store.claim('jti-1', exp), other.claim('jti-1', exp)]);
      expect(first.filter(Boolean)).toHaveLength(1);
      expect(await other.claim('jti-1', exp)).toBe(false);
      expect(await other.claim('jti-2', exp)).toBe(true);
    } finally {
      await dispose();
    }
  });
});
