import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createBroker, loadBrokerConfig } from '@annex/broker';
import { createCatalog, loadCatalogConfig, publishManifest } from '@annex/catalog';
import { createConsole, loadConsoleConfig } from '@annex/console';
import { PROVIDER_SLUG as AI_PROVIDER_SLUG } from '@annex/example-ai-gateway';
import {
  createApiToken,
  type Database,
  type DevelopmentCredentials,
  ensureDevelopmentCredentials,
  ensureLocalEncryptionKeys,
  type Logger,
  migrateToLatest,
  openDatabase,
  type Principal,
  SecretBox,
  serviceLogger,
} from '@annex/platform';

import type { LocalConfig } from './config.js';
import { demoManifests } from './demo-catalog.js';
import { type ExampleStatus, startExamples } from './examples.js';

// The seeding acts as an administrator of the installation it runs in.
const SEED_ACTOR: Principal = { kind: 'admin', tokenId: 'demo-seed', scopes: [] };

export interface Marketplace {
  /** The web console (sign in, browse, attach, apps, billing). */
  consoleUrl: string;
  catalogUrl: string;
  brokerUrl: string;
  database: Database;
  /** Set on the first start of a fresh database only: secrets are shown once. */
  credentials: DevelopmentCredentials | null;
  /** What the demo seeding did, one line per provider. */
  seeded: string[];
  /** Every example provider of the demo catalog, and whether this process runs it. */
  examples: ExampleStatus[];
  close(): Promise<void>;
}

/**
 * Runs the catalog and the broker in this process on one database (with PGlite, the only
 * way to share it), seeds the demo catalog, and listens. Used by `npm start` and by
 * end-to-end tests and benchmarks that want the whole marketplace.
 */
export async function startMarketplace(
  config: LocalConfig,
  env: Readonly<Record<string, string | undefined>>,
  logger: Logger,
): Promise<Marketplace> {
  let serviceEnv = env;
  if (!config.DATABASE_URL && !env.ANNEX_ENCRYPTION_KEYS) {
    serviceEnv = { ...env, ANNEX_ENCRYPTION_KEYS: ensureLocalEncryptionKeys(config.ANNEX_DATA_DIR).spec };
  }
  const catalogConfig = loadCatalogConfig(serviceEnv);
  const brokerConfig = loadBrokerConfig(serviceEnv);
  const consoleConfig = loadConsoleConfig(serviceEnv);
  const secretBox = SecretBox.fromSpec(serviceEnv.ANNEX_ENCRYPTION_KEYS as string);

  const database = await openDatabase(
    config.DATABASE_URL
      ? { kind: 'postgres', url: config.DATABASE_URL }
      : { kind: 'pglite', dataDir: join(config.ANNEX_DATA_DIR, 'db') },
  );
  const closers: Array<() => Promise<void>> = [() => database.close()];
  const close = async () => {
    for (const closer of closers.reverse()) await closer().catch((error) => logger.error({ err: error }, 'close'));
  };
  try {
    const { applied } = await migrateToLatest(database.db);
    if (applied.length > 0) logger.info({ applied }, 'migrated');
    const credentials = await ensureDevelopmentCredentials(database.db);

    // Listen before building the services: with port 0 the broker's public URL (the JWT issuer
    // the example providers trust) is known only once the port is bound.
    const catalogServer = await listen(catalogConfig.host, catalogConfig.port);
    closers.push(() => stop(catalogServer.server));
    const brokerServer = await listen(brokerConfig.host, brokerConfig.port);
    closers.push(() => stop(brokerServer.server));
    const brokerUrl = `http://${brokerConfig.host}:${(brokerServer.server.address() as AddressInfo).port}`;
    const consoleServer = await listen(consoleConfig.host, consoleConfig.port);
    closers.push(() => stop(consoleServer.server));
    const consoleUrl = `http://${consoleConfig.host}:${(consoleServer.server.address() as AddressInfo).port}`;
    const publicUrl = serviceEnv.BROKER_PUBLIC_URL ? brokerConfig.publicUrl : brokerUrl;

    const examples = await startExamples(config, serviceEnv, publicUrl, serviceLogger(logger, 'examples'));
    closers.push(() => examples.close());

    const seeded: string[] = [];
    if (config.ANNEX_SEED_DEMO) {
      for (const manifest of demoManifests(examples.examples)) {
        const outcome = await publishManifest(database.db, SEED_ACTOR, manifest);
        seeded.push(
          outcome.ok
            ? `${manifest.slug}: revision ${outcome.revision}${outcome.unchanged ? ' (unchanged)' : ''}`
            : `${manifest.slug}: not published (${outcome.error.message})`,
        );
      }
    }

    // The embedded AI gateway reports metered tokens to this broker with its own provider
    // token, made here (an earlier start's token is revoked: each start holds one).
    if (examples.aiGateway && !serviceEnv.EXAMPLE_AI_PROVIDER_TOKEN) {
      const token = await embeddedProviderToken(database, AI_PROVIDER_SLUG);
      if (token) examples.aiGateway.setProviderToken(token);
    }

    // The catalog answers apps and add-ons by asking this broker with the caller's token.
    const catalog = await createCatalog(
      { ...catalogConfig, brokerUrl },
      {
        database,
        logger: serviceLogger(logger, 'catalog'),
        secretBox,
      },
    );
    closers.push(() => catalog.close());
    const broker = await createBroker(
      { ...brokerConfig, publicUrl },
      { database, logger: serviceLogger(logger, 'broker'), secretBox },
    );
    closers.push(() => broker.close());

    const catalogUrl = `http://${catalogConfig.host}:${(catalogServer.server.address() as AddressInfo).port}`;
    // The console calls this catalog with each session's own org token (and provider token).
    const webConsole = createConsole(
      {
        ...consoleConfig,
        publicUrl: consoleConfig.publicUrl ?? consoleUrl,
        catalogUrl,
        // The development user sees the example providers' portal (CONSOLE_DEVELOPMENT_PROVIDERS overrides).
        developmentProviders:
          consoleConfig.developmentProviders ?? (config.ANNEX_SEED_DEMO ? examples.examples.map((e) => e.slug) : []),
      },
      { database, secretBox, logger: serviceLogger(logger, 'console') },
    );

    catalogServer.serve(catalog.app);
    brokerServer.serve(broker.app);
    consoleServer.serve(webConsole.app);
    await broker.start();
    webConsole.start();
    closers.push(() => webConsole.close());

    return {
      consoleUrl: webConsole.publicUrl,
      catalogUrl,
      brokerUrl,
      database,
      credentials,
      seeded,
      examples: examples.examples,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Binds a port now and serves `app` once it is given; until then requests get a 503. */
function listen(host: string, port: number): Promise<{ server: Server; serve(app: RequestListener): void }> {
  let handler: RequestListener = (_req, res) => {
    res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' }).end('{"description":"starting"}');
  };
  return new Promise((resolve, reject) => {
    const server = createServer((req, res) => handler(req, res));
    server.once('error', reject);
    server.listen(port, host, () =>
      resolve({
        server,
        serve: (app) => {
          handler = app;
        },
      }),
    );
  });
}

function stop(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

const EMBEDDED_TOKEN_NAME = 'embedded example (npm start)';

/** A fresh provider token for an example this process runs; undefined when it is not published. */
async function embeddedProviderToken(database: Database, slug: string): Promise<string | undefined> {
  const provider = await database.db.selectFrom('providers').select('id').where('slug', '=', slug).executeTakeFirst();
  if (!provider) return undefined;
  await database.db
    .updateTable('api_tokens')
    .set({ revoked_at: new Date() })
    .where('provider_id', '=', provider.id)
    .where('name', '=', EMBEDDED_TOKEN_NAME)
    .where('revoked_at', 'is', null)
    .execute();
  const created = await createApiToken(database.db, {
    kind: 'provider',
    name: EMBEDDED_TOKEN_NAME,
    providerId: provider.id,
  });
  return created.token;
}
