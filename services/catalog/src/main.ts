import { createServer } from 'node:http';
import { join } from 'node:path';
import {
  configOrExit,
  createLogger,
  ensureLocalEncryptionKeys,
  migrateToLatest,
  openDatabase,
  SecretBox,
  stopOnSignals,
} from '@annex/platform';
import { createCatalog } from './app.js';
import { loadCatalogConfig } from './config.js';

// Starts the catalog alone: config, database, migrations, listen, stop on a signal.

const config = configOrExit(() => loadCatalogConfig(process.env));

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

stopOnSignals(logger, server, [() => catalog.close(), () => database.close()]);
