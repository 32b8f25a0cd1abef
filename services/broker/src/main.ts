import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, createLogger, migrateToLatest, openDatabase, SecretBox } from '@annex/platform';
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

// Embedded installations keep a generated key beside their database; servers must configure one.
function encryptionKeys(): string {
  if (config.encryptionKeys) return config.encryptionKeys;
  const file = join(config.dataDir, 'encryption-keys');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(config.dataDir, { recursive: true });
  const spec = SecretBox.generateSpec();
  writeFileSync(file, `${spec}\n`, { mode: 0o600 });
  logger.warn({ file }, 'generated an encryption key for the embedded database');
  return spec;
}

const database = await openDatabase(
  config.databaseUrl
    ? { kind: 'postgres', url: config.databaseUrl }
    : { kind: 'pglite', dataDir: join(config.dataDir, 'db') },
);
await migrateToLatest(database.db);
const broker = createBroker(config, { database, logger, secretBox: SecretBox.fromSpec(encryptionKeys()) });
await broker.start();
const server = broker.app.listen(config.port, config.host, () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info({ host: config.host, port }, 'broker listening');
});

let closing = false;
async function shutdown(signal: string): Promise<void> {
  if (closing) return;
  closing = true;
  logger.info({ signal }, 'shutting down');
  server.close();
  await broker.close();
  await database.close();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
