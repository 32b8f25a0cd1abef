import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ConfigError,
  configOrExit,
  createLogger,
  migrateToLatest,
  openDatabase,
  SecretBox,
  stopOnSignals,
} from '@annex/platform';
import { createConsole } from './app.js';
import { loadConsoleConfig } from './config.js';

// Starts the console alone, beside a catalog and a broker on the same PostgreSQL: config,
// database, listen, sweep expired sessions, stop on a signal. (`npm start` runs it in the
// marketplace's own process instead, on the embedded database.)

const config = configOrExit(() => {
  const loaded = loadConsoleConfig(process.env);
  // Sessions hold tokens the catalog and broker must accept: their database, their keys.
  const missing = [
    loaded.databaseUrl ? null : { variable: 'DATABASE_URL', message: "required: the catalog's PostgreSQL" },
    loaded.encryptionKeys ? null : { variable: 'ANNEX_ENCRYPTION_KEYS', message: "required: the catalog's keys" },
  ].filter((problem) => problem !== null);
  if (missing.length > 0) throw new ConfigError(missing);
  return loaded;
});

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

stopOnSignals(logger, server, [() => webConsole.close(), () => database.close()]);
