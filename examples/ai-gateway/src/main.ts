import { configOrExit, createLogger } from '@annex/platform';
import { loadAiGatewayConfig, startOptionsFromConfig } from './config.js';
import { startExample } from './example.js';

// `npm start -w @annex/example-ai-gateway`: the gateway on its own, trusting ANNEX_BROKER_URL.
const config = configOrExit(() => loadAiGatewayConfig(process.env));
const logger = createLogger('annex-ai-gateway', config.LOG_LEVEL);
try {
  const gateway = await startExample({ ...startOptionsFromConfig(config), logger });
  process.stdout.write(
    [
      '',
      `Annex AI gateway (provider "annex-ai") is running.`,
      `  OSB (for the broker)   ${gateway.url}/v2/catalog`,
      `  OpenAI API (for apps)  ${gateway.openAiBaseUrl}`,
      `  Upstream               ${gateway.upstream.baseUrl}${gateway.upstream.local ? '  (local, deterministic: set AI_GATEWAY_UPSTREAM_URL for a real one)' : ''}`,
      `  State                  ${gateway.storage === 'postgres' ? 'PostgreSQL (EXAMPLE_AI_DATABASE_URL)' : 'in memory (set EXAMPLE_AI_DATABASE_URL to keep it)'}`,
      `  Broker                 ${config.ANNEX_BROKER_URL}${config.EXAMPLE_AI_PROVIDER_TOKEN ? '' : '  (no EXAMPLE_AI_PROVIDER_TOKEN: usage is metered but not reported)'}`,
      '',
    ].join('\n'),
  );
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    await gateway.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
} catch (error) {
  logger.fatal({ err: error }, 'failed to start');
  process.exit(1);
}
