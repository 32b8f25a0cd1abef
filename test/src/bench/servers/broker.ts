import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBroker, loadBrokerConfig } from '@annex/broker';
import { seedCatalog } from '@annex/broker/testing';
import { createLogger, migrateToLatest, openDatabase, SecretBox } from '@annex/platform';

// A broker for the benchmark on DATABASE_URL, routing one plan to PROVIDER_URL.
const url = process.env.DATABASE_URL as string;
const providerUrl = process.env.PROVIDER_URL as string;
const database = await openDatabase({ kind: 'postgres', url, poolSize: 20 });
await migrateToLatest(database.db);
const secretSpec = SecretBox.generateSpec();
const secretBox = SecretBox.fromSpec(secretSpec);
const fixture = await seedCatalog(database.db, secretBox, {
  providerUrl,
  auth: { kind: 'basic', username: 'bench', password: 'bench-secret' },
  plans: [{ slug: 'fast', free: true }],
});

const server = createServer();
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const brokerUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const config = loadBrokerConfig({
  DATABASE_URL: url,
  ANNEX_ENCRYPTION_KEYS: secretSpec,
  BROKER_PUBLIC_URL: brokerUrl,
  LOG_LEVEL: 'silent',
  NODE_ENV: 'production',
  // Its providers listen on loopback, which production closes to provider URLs by default.
  ANNEX_ALLOW_PRIVATE_NETWORKS: 'true',
});
const broker = createBroker(config, { database, logger: createLogger('broker', 'silent'), secretBox });
server.on('request', broker.app);
await broker.start();
const plan = fixture.plans.fast as { osbId: string };
const platformAuth = `Basic ${Buffer.from(`${fixture.osbUsername}:${fixture.osbPassword}`).toString('base64')}`;
console.log(`FIXTURE ${JSON.stringify({ serviceId: fixture.serviceOsbId, planId: plan.osbId, platformAuth })}`);
console.log(`LISTENING ${brokerUrl}`);
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close();
  void broker
    .close()
    .then(() => database.close())
    .finally(() => process.exit(0));
});
