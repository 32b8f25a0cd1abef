import { osbClient, seedCatalog, startFakeProvider, waitForOperation } from '@annex/broker/testing';
import { migrateToLatest, openDatabase, SecretBox } from '@annex/platform';
import { createScratchDatabase, serverUrl } from '@annex/platform/testing';
import { expect, it } from 'vitest';
import { type BrokerProcess, freePort, mapLimited, spawnBroker } from './processes.js';

const url = serverUrl('TEST_DATABASE_URL', 'broker replicas on PostgreSQL');
const INSTANCES = 300;

it.runIf(url)(
  'three replicas, 300 provisions each sent to two replicas at once: each provisioned exactly once',
  async () => {
    const scratch = await createScratchDatabase(url as string);
    const database = await openDatabase({ kind: 'postgres', url: scratch.url, poolSize: 4 });
    const keys = SecretBox.generateSpec();
    const provider = await startFakeProvider({ auth: { kind: 'jwt', audience: 'pending' } });
    const replicas: BrokerProcess[] = [];
    try {
      await migrateToLatest(database.db);
      const fx = await seedCatalog(database.db, SecretBox.fromSpec(keys), {
        providerUrl: provider.url,
        auth: { kind: 'jwt' },
        plans: [{ slug: 'standard' }],
      });
      provider.options.auth = { kind: 'jwt', audience: fx.providerSlug };
      const ports = [await freePort(), await freePort(), await freePort()];
      // One public URL (a load balancer would be in front): every replica signs with the shared keys.
      const publicUrl = `http://127.0.0.1:${ports[0]}`;
      for (const port of ports) {
        replicas.push(
          await spawnBroker(port, {
            DATABASE_URL: scratch.url,
            ANNEX_ENCRYPTION_KEYS: keys,
            BROKER_PUBLIC_URL: publicUrl,
            BROKER_PROVIDER_TIMEOUT_MS: '10000',
            BROKER_SYNC_WAIT_MS: '5000',
          }),
        );
      }
      provider.options.brokerUrl = publicUrl;
      const clients = replicas.map((r) => osbClient(r.url, { username: fx.osbUsername, password: fx.osbPassword }));
      const body = {
        service_id: fx.serviceOsbId,
        plan_id: fx.plans.standard?.osbId,
        organization_guid: 'o',
        space_guid: 's',
      };
      const ids = Array.from({ length: INSTANCES }, (_, i) => `replica-${i}-${Math.random().toString(36).slice(2, 8)}`);
      // Each provision goes to two different replicas at the same moment.
      const pairs = await mapLimited(ids, 20, async (id, i) =>
        Promise.all(
          [i % 3, (i + 1) % 3].map((r) =>
            (clients[r] as (typeof clients)[number])(
              'PUT',
              `/v2/service_instances/${id}?accepts_incomplete=true`,
              body,
            ),
          ),
        ),
      );
      const statuses = pairs.flat().map((a) => a.status);
      expect(statuses.filter((s) => ![200, 201, 202].includes(s))).toEqual([]);
      expect(pairs.every((pair) => pair.some((a) => a.status === 201 || a.status === 202))).toBe(true);
      for (const id of ids) {
        const done = await waitForOperation(
          clients[0] as (typeof clients)[number],
          `/v2/service_instances/${id}/last_operation`,
        );
        expect(done.body.state).toBe('succeeded');
      }
      const rows = await database.db
        .selectFrom('service_instances')
        .select(['provider_instance_id', 'state'])
        .where('id', 'in', ids)
        .execute();
      expect(rows).toHaveLength(INSTANCES);
      for (const row of rows) expect(provider.creations.get(row.provider_instance_id as string)).toBe(1);
      expect(provider.instances.size).toBe(INSTANCES);
      expect(provider.authFailures).toEqual([]);
      const operations = await database.db
        .selectFrom('broker_operations')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('kind', '=', 'provision')
        .executeTakeFirstOrThrow();
      expect(Number(operations.n)).toBe(INSTANCES);
    } finally {
      await Promise.all(replicas.map((r) => r.stop()));
      await provider.close();
      await database.close();
      await scratch.drop();
    }
  },
  240_000,
);
