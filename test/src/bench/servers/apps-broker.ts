import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBroker, loadBrokerConfig } from '@annex/broker';
import { seedCatalog } from '@annex/broker/testing';
import { createApiToken, createLogger, type Database, migrateToLatest, openDatabase, SecretBox } from '@annex/platform';
import { createScratchDatabase } from '@annex/platform/testing';

// A broker for the attach benchmark: BENCH_DB=pglite|postgres, PROVIDER_URL, BENCH_APPS=N apps
// in one organization, one add-on to attach to them.
const kind = process.env.BENCH_DB ?? 'pglite';
const appCount = Number(process.env.BENCH_APPS ?? 500);
let database: Database;
let drop = async () => {};
let databaseUrl: string | undefined;
if (kind === 'postgres') {
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) throw new Error('BENCH_DB=postgres needs TEST_DATABASE_URL');
  const scratch = await createScratchDatabase(serverUrl);
  drop = scratch.drop;
  databaseUrl = scratch.url;
  database = await openDatabase({ kind: 'postgres', url: scratch.url, poolSize: 20 });
} else {
  database = await openDatabase({ kind: 'pglite-memory' });
}
await migrateToLatest(database.db);
const secretSpec = SecretBox.generateSpec();
const secretBox = SecretBox.fromSpec(secretSpec);
const fixture = await seedCatalog(database.db, secretBox, {
  providerUrl: process.env.PROVIDER_URL as string,
  auth: { kind: 'basic', username: 'bench', password: 'bench-secret' },
  plans: [{ slug: 'fast', free: true }],
});
const org = await database.db
  .selectFrom('platform_organizations')
  .select('organization_id')
  .where('platform_id', '=', fixture.platformId)
  .executeTakeFirstOrThrow();
const token = await createApiToken(database.db, { kind: 'org', name: 'bench', organizationId: org.organization_id });
const service = await database.db
  .selectFrom('services')
  .select('slug')
  .where('id', '=', fixture.serviceId)
  .executeTakeFirstOrThrow();
await database.db
  .insertInto('apps')
  .values(
    Array.from({ length: appCount + 1 }, (_, i) => ({ name: `bench-app-${i}`, organization_id: org.organization_id })),
  )
  .execute();

const server = createServer();
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const brokerUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const config = loadBrokerConfig({
  ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
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
console.log(`FIXTURE ${JSON.stringify({ token: token.token, plan: `${service.slug}:fast`, apps: appCount })}`);
console.log(`LISTENING ${brokerUrl}`);
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close();
  void broker
    .close()
    .then(() => database.close())
    .then(drop)
    .finally(() => process.exit(0));
});
