import { createServer } from 'node:http';
import { join } from 'node:path';
import {
  ConfigError,
  createLogger,
  drainServer,
  ensureLocalEncryptionKeys,
  migrateToLatest,
  openDatabase,
  SecretBox,
} from '@annex/platform';
import { createCatalog } from './app.js';
import { type CatalogConfig, loadCatalogConfig } from './config.js';

// Starts the catalog alone: config, database, migrations, listen, stop on a signal.

let config: CatalogConfig;
try {
  config = loadCatalogConfig(process.env);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}

const logger = createLogger('catalog', config.logLevel);
// Only the embedded database gets here without keys (config requires them with DATABASE_URL):
// it keeps a generated key beside its data, as `npm start` does.
const secretBox = SecretBox.fromSpec(config.encryptionKeys ?? ensureLocalEncryptionKeys(config.dataDir).spec);
const database = await openDatabase(
  config.databaseUrl
    ? { kind: 'postgres', url: config.databaseUrl }
    : { kind: 'pglite', dataDir: join(config.dataDir, 'db') },
);
await migrateToLatest(database.db);
const catalog = createCatalog(config, { database, logger, secretBox });
await catalog.start();
const server = createServer(catalog.app).listen(config.port, config.host, () => {
  logger.info({ url: `http://${config.host}:${config.port}/graphql` }, 'catalog listening');
});

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping');
  await drainServer(server);
  await catalog.close();
  await database.close();
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
