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
import { createBroker } from './app.js';
import { loadBrokerConfig } from './config.js';

let config: ReturnType<typeof loadBrokerConfig>;
try {
  config = loadBrokerConfig(process.env);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}

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

let closing = false;
async function shutdown(signal: string): Promise<void> {
  if (closing) return;
  closing = true;
  logger.info({ signal }, 'shutting down');
  await drainServer(server);
  await broker.close();
  await database.close();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
