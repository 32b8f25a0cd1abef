import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCatalog, loadCatalogConfig } from '@annex/catalog';
import { createApiToken, createLogger, type Database, migrateToLatest, openDatabase, SecretBox } from '@annex/platform';
import { createScratchDatabase } from '@annex/platform/testing';
import { seedServices } from '../seed.js';

// A catalog server for the benchmark: BENCH_DB=pglite|postgres, BENCH_SERVICES=N, BENCH_CACHE=true|false.
// Prints an admin token as its fixture.
const kind = process.env.BENCH_DB ?? 'pglite';
const count = Number(process.env.BENCH_SERVICES ?? 200);
let database: Database;
let drop = async () => {};
if (kind === 'postgres') {
  const server = process.env.TEST_DATABASE_URL;
  if (!server) throw new Error('BENCH_DB=postgres needs TEST_DATABASE_URL');
  const scratch = await createScratchDatabase(server);
  drop = scratch.drop;
  database = await openDatabase({ kind: 'postgres', url: scratch.url, poolSize: 10 });
} else {
  database = await openDatabase({ kind: 'pglite-memory' });
}
await migrateToLatest(database.db);
await seedServices(database.db, count);
// For requests that need a caller with a token (a provider publishing, say).
const { token } = await createApiToken(database.db, { kind: 'admin', name: 'bench' });
console.log(`FIXTURE ${JSON.stringify({ token })}`);

const secretSpec = SecretBox.generateSpec();
const config = loadCatalogConfig({
  NODE_ENV: 'production',
  LOG_LEVEL: 'silent',
  ANNEX_ENCRYPTION_KEYS: secretSpec,
  CATALOG_RESPONSE_CACHE: process.env.BENCH_CACHE ?? 'true',
});
const catalog = await createCatalog(config, {
  database,
  logger: createLogger('catalog', 'silent'),
  secretBox: SecretBox.fromSpec(secretSpec),
});
const server = createServer(catalog.app);
server.listen(0, '127.0.0.1', () => {
  console.log(`LISTENING http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`);
});
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void catalog
    .close()
    .then(() => database.close())
    .then(drop)
    .finally(() => process.exit(0));
});
