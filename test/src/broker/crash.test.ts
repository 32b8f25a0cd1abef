import { osbClient, seedCatalog, startFakeProvider } from '@annex/broker/testing';
import { migrateToLatest, openDatabase, SecretBox } from '@annex/platform';
import { createScratchDatabase, serverUrl } from '@annex/platform/testing';
import { expect, it } from 'vitest';
import { freePort, mapLimited, spawnBroker } from './processes.js';

const url = serverUrl('TEST_DATABASE_URL', 'broker crash (kill -9) on PostgreSQL');
const INSTANCES = 50;

it.runIf(url)(
  'kill -9 with 50 async operations in flight: after a restart all finish, each provisioned exactly once, no orphans',
  async () => {
    const scratch = await createScratchDatabase(url as string);
    const database = await openDatabase({ kind: 'postgres', url: scratch.url, poolSize: 4 });
    const keys = SecretBox.generateSpec();
    // Provision PUTs reach the provider at once but are answered up to 2 s later: when the
    // broker dies, many calls are still in flight and their rows still leased.
    const provider = await startFakeProvider({
      auth: { kind: 'jwt', audience: 'pending' },
      asyncPolls: 2,
      putDelayMs: () => Math.floor(Math.random() * 2_000),
    });
    let broker: Awaited<ReturnType<typeof spawnBroker>> | undefined;
    try {
      await migrateToLatest(database.db);
      const fx = await seedCatalog(database.db, SecretBox.fromSpec(keys), {
        providerUrl: provider.url,
        auth: { kind: 'jwt' },
        plans: [{ slug: 'async', maximumPollingDuration: 600 }],
      });
      const plan = fx.plans.async?.osbId as string;
      provider.options.auth = { kind: 'jwt', audience: fx.providerSlug };
      provider.options.modes = { [plan]: 'async' };
      const port = await freePort();
      const env = {
        DATABASE_URL: scratch.url,
        ANNEX_ENCRYPTION_KEYS: keys,
        BROKER_PUBLIC_URL: `http://127.0.0.1:${port}`,
        BROKER_PROVIDER_TIMEOUT_MS: '4000',
        BROKER_SYNC_WAIT_MS: '100',
        BROKER_LEASE_MS: '5000',
        BROKER_WORKER_CONCURRENCY: '20',
      };
      broker = await spawnBroker(port, env);
      provider.options.brokerUrl = broker.url;
      const osb = osbClient(broker.url, { username: fx.osbUsername, password: fx.osbPassword });
      const ids = Array.from({ length: INSTANCES }, (_, i) => `crash-${i}-${Math.random().toString(36).slice(2, 8)}`);
      const body = { service_id: fx.serviceOsbId, plan_id: plan, organization_guid: 'o', space_guid: 's' };
      const answers = await mapLimited(ids, 25, (id) =>
        osb('PUT', `/v2/service_instances/${id}?accepts_incomplete=true`, body),
      );
      expect(answers.map((a) => a.status)).toEqual(ids.map(() => 202));
      const inFlight = await database.db
        .selectFrom('broker_operations')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('state', '=', 'pending')
        .executeTakeFirstOrThrow();
      // Provider calls still running (leased rows) when the process dies.
      expect(Number(inFlight.n)).toBeGreaterThan(0);

      await broker.crash();
      broker = await spawnBroker(port, env);

      const deadline = Date.now() + 90_000;
      const states = new Map<string, string>();
      while (Date.now() < deadline && states.size < INSTANCES) {
        for (const id of ids) {
          if (states.has(id)) continue;
          const res = await osb('GET', `/v2/service_instances/${id}/last_operation`);
          if (res.status === 200 && res.body.state !== 'in progress') states.set(id, res.body.state);
        }
        if (states.size < INSTANCES) await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect([...states.values()].filter((s) => s === 'succeeded').length).toBe(INSTANCES);

      const rows = await database.db
        .selectFrom('service_instances')
        .select(['id', 'provider_instance_id', 'state'])
        .where('id', 'in', ids)
        .execute();
      expect(rows.every((r) => r.state === 'provisioned')).toBe(true);
      for (const row of rows) expect(provider.creations.get(row.provider_instance_id as string)).toBe(1);
      // No orphans: the provider holds exactly the instances the broker knows.
      expect(new Set(provider.instances.keys())).toEqual(new Set(rows.map((r) => r.provider_instance_id)));
      expect(provider.authFailures).toEqual([]);
    } finally {
      await broker?.stop();
      await provider.close();
      await database.close();
      await scratch.drop();
    }
  },
  180_000,
);
