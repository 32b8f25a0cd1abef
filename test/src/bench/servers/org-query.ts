import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBroker, loadBrokerConfig } from '@annex/broker';
import { seedAppsWithAddons, seedCatalog } from '@annex/broker/testing';
import { createCatalog, loadCatalogConfig } from '@annex/catalog';
import {
  ALL_SCOPES,
  createApiToken,
  createLogger,
  type Database,
  migrateToLatest,
  openDatabase,
  SecretBox,
} from '@annex/platform';
import { createScratchDatabase } from '@annex/platform/testing';

// A broker and a catalog on one database (PGlite lives in one process, so both run in this
// one, each on its own port; the catalog calls the broker over HTTP as deployed), for the
// organization-query benchmark: BENCH_DB=pglite|postgres, BENCH_APPS=N apps of one
// organization with BENCH_ADDONS add-ons each, every add-on attached to its app.
// `GET /stats` on the catalog's port answers the SQL statements sent, the calls the catalog
// made to the broker and this process's CPU time so far, for per-request figures.
const kind = process.env.BENCH_DB ?? 'pglite';
const appCount = Number(process.env.BENCH_APPS ?? 20);
const addonsPerApp = Number(process.env.BENCH_ADDONS ?? 2);
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
  // Nothing is provisioned while the benchmark runs: the add-ons are seeded as provisioned.
  providerUrl: 'http://127.0.0.1:9',
  auth: { kind: 'basic', username: 'bench', password: 'bench-secret' },
  plans: [{ slug: 'fast', free: true }],
});
const org = await database.db
  .selectFrom('platform_organizations')
  .select('organization_id')
  .where('platform_id', '=', fixture.platformId)
  .executeTakeFirstOrThrow();
await seedAppsWithAddons(database.db, secretBox, {
  fixture,
  plan: 'fast',
  organizationId: org.organization_id,
  prefix: 'bench-app',
  apps: appCount,
  addonsPerApp,
});
const token = await createApiToken(database.db, {
  kind: 'org',
  name: 'bench',
  organizationId: org.organization_id,
  scopes: ALL_SCOPES,
});

const brokerServer = createServer();
await new Promise<void>((resolve) => brokerServer.listen(0, '127.0.0.1', resolve));
const brokerUrl = `http://127.0.0.1:${(brokerServer.address() as AddressInfo).port}`;
const broker = createBroker(
  loadBrokerConfig({
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ANNEX_ENCRYPTION_KEYS: secretSpec,
    BROKER_PUBLIC_URL: brokerUrl,
    LOG_LEVEL: 'silent',
    NODE_ENV: 'production',
    // Nothing to provision or deliver: no job runner, so every statement counted is a request's.
    BROKER_WORKERS: 'false',
  }),
  { database, logger: createLogger('broker', 'silent'), secretBox },
);
let brokerCalls = 0;
brokerServer.on('request', (req, res) => {
  if (req.url?.startsWith('/v1/')) brokerCalls += 1;
  broker.app(req, res);
});
await broker.start();

const catalog = createCatalog(
  loadCatalogConfig({
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    NODE_ENV: 'production',
    LOG_LEVEL: 'silent',
    ANNEX_ENCRYPTION_KEYS: secretSpec,
    CATALOG_BROKER_URL: brokerUrl,
  }),
  { database, logger: createLogger('catalog', 'silent'), secretBox },
);
const catalogServer = createServer((req, res) => {
  if (req.url === '/stats') {
    const cpu = process.cpuUsage();
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        statements: database.statementCount(),
        brokerCalls,
        cpuMs: (cpu.user + cpu.system) / 1000,
      }),
    );
    return;
  }
  catalog.app(req, res);
});
await catalog.start();
await new Promise<void>((resolve) => catalogServer.listen(0, '127.0.0.1', resolve));
console.log(`FIXTURE ${JSON.stringify({ token: token.token, apps: appCount, addonsPerApp })}`);
console.log(`LISTENING http://127.0.0.1:${(catalogServer.address() as AddressInfo).port}/graphql`);
process.on('SIGTERM', () => {
  for (const server of [catalogServer, brokerServer]) {
    server.closeAllConnections();
    server.close();
  }
  void catalog
    .close()
    .then(() => broker.close())
    .then(() => database.close())
    .then(drop)
    .finally(() => process.exit(0));
});
