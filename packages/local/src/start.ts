import { ConfigError, configOrExit, createLogger } from '@annex/platform';
import { loadLocalConfig } from './config.js';
import { startMarketplace } from './marketplace.js';

// `npm start`: the whole marketplace on localhost, printing where to go.
const config = configOrExit(() => loadLocalConfig(process.env));
const logger = createLogger('annex', config.LOG_LEVEL);

try {
  const marketplace = await startMarketplace(config, process.env, logger);
  const where = config.DATABASE_URL ? 'PostgreSQL (DATABASE_URL)' : `embedded PGlite in ${config.ANNEX_DATA_DIR}/db`;
  const lines = [
    '',
    `Annex is running on ${where}.`,
    '',
    `  Web console      ${marketplace.consoleUrl}   (${process.env.OIDC_ISSUER_URL ? 'sign in with your identity provider' : 'development sign-in: no OIDC_ISSUER_URL set'})`,
    `  Catalog GraphQL  ${marketplace.catalogUrl}/graphql   (open it in a browser for GraphiQL)`,
    `  Manifest schema  ${marketplace.catalogUrl}/manifest.schema.json`,
    `  OSB broker       ${marketplace.brokerUrl}/v2/catalog`,
    `  Broker JWKS      ${marketplace.brokerUrl}/.well-known/jwks.json`,
    `  Health           ${marketplace.catalogUrl}/readyz  ${marketplace.brokerUrl}/readyz  (metrics at /metrics)`,
    '',
  ];
  if (marketplace.seeded.length > 0) lines.push('Demo catalog:', ...marketplace.seeded.map((s) => `  ${s}`), '');
  lines.push(
    'Example providers (all in the demo catalog; attaching one that is not running fails until it runs):',
    ...marketplace.examples.map(
      (e) => `  ${e.slug.padEnd(15)} ${e.running ? `running at ${e.url}  (${e.detail})` : `not running: ${e.detail}`}`,
    ),
    '',
  );
  const c = marketplace.credentials;
  if (c) {
    lines.push(
      'Development credentials, created for this fresh database and shown only now (only hashes are stored):',
      `  Admin token        ${c.adminToken}`,
      `  Org token          ${c.orgToken}   (organization "${c.organization}")`,
      `  Platform token     ${c.platformToken}   (platform "${c.platform}")`,
      `  OSB basic auth     ${c.osbUsername}:${c.osbPassword}`,
      '',
      'Try:',
      `  curl -s -u '${c.osbUsername}:${c.osbPassword}' -H 'X-Broker-API-Version: 2.17' ${marketplace.brokerUrl}/v2/catalog`,
    );
  } else {
    lines.push(
      'Development credentials were printed when this database was created. To start afresh, stop Annex and',
      `remove ${config.ANNEX_DATA_DIR}/ (this deletes the embedded database).`,
      '',
      'Try:',
    );
  }
  lines.push(
    `  curl -s ${marketplace.catalogUrl}/graphql -H 'content-type: application/json' \\`,
    `    -d '{"query":"{ services(first: 5) { edges { node { slug name category } } } }"}'`,
    '',
    'Stop with Ctrl-C.',
    '',
  );
  process.stdout.write(`${lines.join('\n')}\n`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    await marketplace.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  logger.fatal({ err: error }, 'failed to start');
  process.exit(1);
}
