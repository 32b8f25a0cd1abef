import { ConfigError } from '@annex/platform';
import { loadConfig } from './config.js';
import { startExample } from './provider.js';

try {
  const config = loadConfig(process.env);
  const running = await startExample({
    port: config.EXAMPLE_POSTGRES_PORT,
    brokerUrl: config.ANNEX_BROKER_URL,
    adminUrl: config.EXAMPLE_POSTGRES_URL,
  });
  console.log(`annex-postgres provider listening on ${running.url} (broker ${config.ANNEX_BROKER_URL})`);
  const stop = () => {
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
}
