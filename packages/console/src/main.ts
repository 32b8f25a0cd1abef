import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, createLogger, drainServer, migrateToLatest, openDatabase, SecretBox } from '@annex/platform';
import { createConsole } from './app.js';
import { type ConsoleConfig, loadConsoleConfig } from './config.js';

// Starts the console alone, beside a catalog and a broker on the same PostgreSQL: config,
// database, listen, sweep expired sessions, stop on a signal. (`npm start` runs it in the
// marketplace's own process instead, on the embedded database.)

let config: ConsoleConfig;
try {
  config = loadConsoleConfig(process.env);
  // Sessions hold tokens the catalog and broker must accept: their database, their keys.
  const missing = [
    config.databaseUrl ? null : { variable: 'DATABASE_URL', message: "required: the catalog's PostgreSQL" },
    config.encryptionKeys ? null : { variable: 'ANNEX_ENCRYPTION_KEYS', message: "required: the catalog's keys" },
  ].filter((problem) => problem !== null);
  if (missing.length > 0) throw new ConfigError(missing);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}

const logger = createLogger('console', config.logLevel);
const secretBox = SecretBox.fromSpec(config.encryptionKeys as string);
const database = await openDatabase({ kind: 'postgres', url: config.databaseUrl as string });
// Like every Annex process, it migrates at start-up (one advisory lock: replicas take turns).
await migrateToLatest(database.db);
const server = createServer();
await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
const bound = `http://${config.host}:${(server.address() as AddressInfo).port}`;
const webConsole = createConsole({ ...config, publicUrl: config.publicUrl ?? bound }, { database, secretBox, logger });
server.on('request', webConsole.app);
webConsole.start();
logger.info({ url: webConsole.publicUrl, listening: bound }, 'console listening');

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping');
  await drainServer(server);
  await webConsole.close();
  await database.close();
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
