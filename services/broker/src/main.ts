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
import { createBroker } from './app.js';
import { loadBrokerConfig } from './config.js';

const config = configOrExit(() => loadBrokerConfig(process.env));

const logger = createLogger('broker', config.logLevel);

const database = await openDatabase(
  config.databaseUrl
    ? { kind: 'postgres', url: config.databaseUrl }
    : { kind: 'pglite', dataDir: join(config.dataDir, 'db') },
);
await migrateToLatest(database.db);
// Embedded installations keep a generated key beside their data; servers must configure one.
const secretBox = SecretBox.fromSpec(config.encryptionKeys ?? ensureLocalEncryptionKeys(config.dataDir).spec);
const broker = createBroker(config, { database, logger, secretBox });
await broker.start();
const server = createServer(broker.app).listen(config.port, config.host, () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info({ host: config.host, port }, 'broker listening');
});

stopOnSignals(logger, server, [() => broker.close(), () => database.close()]);
