import { randomUUID } from 'node:crypto';
import { type Database, SecretBox } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedCatalog } from '../../testing.js';
import {
  completeProvisioning,
  deterministicProviderInstanceId,
  insertNewProvisioning,
  isPostgresServer,
  type NewProvisioning,
  recordProvisioned,
  uuidV5,
} from './provisioning.js';

describe('provider-side instance ids', () => {
  it('computes RFC 9562 version 5 UUIDs', () => {
    // The RFC's own example: "www.example.com" in the DNS namespace.
    expect(uuidV5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'www.example.com')).toBe(
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    );
  });

  it('derives the same id for one platform instance and different ids otherwise', () => {
    const platform = randomUUID();
    const id = deterministicProviderInstanceId(platform, 'instance-1');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(deterministicProviderInstanceId(platform, 'instance-1')).toBe(id);
    expect(deterministicProviderInstanceId(platform, 'instance-2')).not.toBe(id);
    expect(deterministicProviderInstanceId(randomUUID(), 'instance-1')).not.toBe(id);
  });
});

describe.each(testDatabaseKinds('broker provisioning statements'))('start record commit ($name)', (kind) => {
  let database: Database;
  beforeAll(async () => {
    database = await kind.open();
  });
  afterAll(async () => {
    await database?.close();
  });

  /** A catalog with one plan, and a start record builder for new instances of it. */
  const seedPlan = async (slug: string) => {
    const fx = await seedCatalog(database.db, SecretBox.fromSpec(SecretBox.generateSpec()), {
      providerUrl: 'http://127.0.0.1:9',
      auth: { kind: 'basic', username: 'u', password: 'p' },
      plans: [{ slug }],
    });
    const plan = fx.plans[slug] as { id: string };
    const start = (
      instanceId: string,
      extra: { parametersSealed?: string; request?: string; leaseOwner?: string } = {},
    ): NewProvisioning => ({
      instance: {
        id: instanceId,
        serviceId: fx.serviceId,
        planId: plan.id,
        platformId: fx.platformId,
        organizationGuid: 'o',
        spaceGuid: 's',
        context: '{}',
        parametersSealed: extra.parametersSealed ?? null,
        providerId: fx.providerId,
        providerInstanceId: deterministicProviderInstanceId(fx.platformId, instanceId),
        maintenanceInfo: null,
        originatingIdentity: null,
        tokenId: null,
      },
      operation: {
        id: randomUUID(),
        request: extra.request ?? '{}',
        acceptsIncomplete: false,
        originatingIdentity: null,
        leaseOwner: extra.leaseOwner ?? 'test',
        leaseMs: 60_000,
      },
      audit: { actorId: fx.platformId, originatingIdentity: null, detail: '{}' },
      commit: 'deferred',
    });
    return { fx, start };
  };

  it('knows which kind of database it runs on', async () => {
    expect(await isPostgresServer(database.db)).toBe(kind.name === 'postgres');
  });

  it('commits a deferred start record without leaving synchronous_commit off on the connection', async () => {
    const { start } = await seedPlan('plain');
    await database.db.connection().execute(async (connection) => {
      const instanceId = `deferred-${randomUUID()}`;
      const op = await insertNewProvisioning(connection, start(instanceId));
      expect(op?.instance_id).toBe(instanceId);
      const setting = await sql<{ value: string }>`select current_setting('synchronous_commit') as value`.execute(
        connection,
      );
      expect(setting.rows[0]?.value).toBe('on');
      const stored = await connection
        .selectFrom('service_instances')
        .select('state')
        .where('id', '=', instanceId)
        .executeTakeFirst();
      expect(stored?.state).toBe('provisioning');
    });
  });

  it('records concurrent provisions in shared statements, each row deciding its own conflict', async () => {
    const { fx, start: startOf } = await seedPlan('shared');
    const start = (instanceId: string) =>
      startOf(instanceId, {
        parametersSealed: 'sealed parameters',
        request: JSON.stringify({ provider_instance_id: deterministicProviderInstanceId(fx.platformId, instanceId) }),
        leaseOwner: 'owner-a',
      });
    const ids = Array.from({ length: 6 }, (_, i) => `shared-${i}-${randomUUID()}`);
    // Started together, so that all but the first share one statement; one id twice.
    const requests = [...ids, ids[2] as string].map(start);
    const ops = await Promise.all(requests.map((request) => insertNewProvisioning(database.db, request)));
    const duplicates = [ops[2], ops[6]];
    expect(duplicates.filter((op) => op !== undefined)).toHaveLength(1);
    for (const [index, op] of ops.entries()) {
      if (index === 2 || index === 6) continue;
      expect(op?.id).toBe(requests[index]?.operation.id);
      expect(op?.instance_id).toBe(ids[index]);
      expect(op?.state).toBe('pending');
    }
    const started = ops.filter((op) => op !== undefined);
    const completions = await Promise.all(
      started.map((op, index) =>
        completeProvisioning(database.db, {
          operationId: op.id,
          instanceId: op.instance_id,
          providerInstanceId: deterministicProviderInstanceId(fx.platformId, op.instance_id),
          // One completion comes from a replica that no longer holds the lease.
          leaseOwner: index === 0 ? 'owner-b' : 'owner-a',
          description: null,
          result: '{}',
          dashboardUrl: index === 1 ? 'https://dash.example/1' : null,
          audit: {
            actorKind: 'platform',
            actorId: fx.platformId,
            platformId: fx.platformId,
            tokenId: null,
            originatingIdentity: null,
          },
        }),
      ),
    );
    expect(completions[0]).toBeUndefined();
    expect(completions.slice(1).map((op) => op?.state)).toEqual(Array(started.length - 1).fill('succeeded'));
    const stored = await database.db
      .selectFrom('service_instances')
      .select(['id', 'state', 'dashboard_url'])
      .where('id', 'in', ids)
      .execute();
    const states = Object.fromEntries(stored.map((row) => [row.id, row.state]));
    expect(states[started[0]?.instance_id as string]).toBe('provisioning');
    for (const op of started.slice(1)) expect(states[op.instance_id]).toBe('provisioned');
    expect(stored.find((row) => row.id === started[1]?.instance_id)?.dashboard_url).toBe('https://dash.example/1');
    const audit = await database.db
      .selectFrom('broker_audit_log')
      .select(['instance_id', 'action'])
      .where('instance_id', 'in', ids)
      .execute();
    expect(audit.filter((entry) => entry.action === 'provision.requested')).toHaveLength(ids.length);
    expect(audit.filter((entry) => entry.action === 'provision.succeeded')).toHaveLength(ids.length - 1);
  });

  it('records a provision the provider already finished whole, and nothing when the id is taken', async () => {
    const { start } = await seedPlan('finished');
    const finished = (instanceId: string) => {
      const { commit: _commit, ...record } = start(instanceId, { leaseOwner: 'unused' });
      return {
        ...record,
        outcome: {
          description: 'ready',
          result: '{"dashboard_url":"https://d.example/x"}',
          dashboardUrl: 'https://d.example/x',
        },
      };
    };
    const instanceId = `finished-${randomUUID()}`;
    const first = finished(instanceId);
    const second = finished(instanceId);
    const [id, twinId] = await Promise.all([
      recordProvisioned(database.db, first),
      recordProvisioned(database.db, second),
    ]);
    expect([id, twinId].filter((row) => row !== undefined)).toHaveLength(1);
    expect(id ?? twinId).toBe(id ? first.operation.id : second.operation.id);
    const recorded = await database.db
      .selectFrom('broker_operations')
      .selectAll()
      .where('id', '=', (id ?? twinId) as string)
      .executeTakeFirstOrThrow();
    expect(recorded).toMatchObject({ state: 'succeeded', kind: 'provision', description: 'ready', lease_owner: null });
    expect(recorded.completed_at).toBeInstanceOf(Date);
    const instance = await database.db
      .selectFrom('service_instances')
      .select(['state', 'dashboard_url', 'last_operation_id'])
      .where('id', '=', instanceId)
      .executeTakeFirstOrThrow();
    expect(instance).toEqual({
      state: 'provisioned',
      dashboard_url: 'https://d.example/x',
      last_operation_id: recorded.id,
    });
    const audit = await database.db
      .selectFrom('broker_audit_log')
      .select(['action', 'result'])
      .where('instance_id', '=', instanceId)
      .orderBy('id')
      .execute();
    expect(audit).toEqual([
      { action: 'provision.requested', result: 'pending' },
      { action: 'provision.succeeded', result: 'succeeded' },
    ]);
  });
});
