import {
  manifest as aiManifest,
  loadAiGatewayConfig,
  type RunningAiGateway,
  startExample as startAiGateway,
  startOptionsFromConfig,
} from '@annex/example-ai-gateway';
import { manifest as postgresManifest, startExample as startPostgresExample } from '@annex/example-postgres';
import { manifest as redisManifest, startExample as startRedisExample } from '@annex/example-redis';
import { ConfigError, type Logger, serviceLogger } from '@annex/platform';
import type { ProviderManifestInput } from '@annex/sdk';
import type { LocalConfig } from './config.js';

/** One example provider of the demo catalog, and whether this process runs it. */
export interface ExampleStatus {
  slug: string;
  /** Where it is served (or would be): its manifest's OSB URL. */
  url: string;
  running: boolean;
  /** Running: what it serves; not running: why, and the variable that starts it. */
  detail: string;
  manifest: ProviderManifestInput;
}

export interface RunningExamples {
  examples: ExampleStatus[];
  /** The running AI gateway, if it runs. */
  aiGateway: RunningAiGateway | undefined;
  close(): Promise<void>;
}

const localUrl = (port: number) => `http://127.0.0.1:${port}`;

/**
 * Starts the example providers this process can run: the AI gateway always (its upstream is
 * local), PostgreSQL and Redis when their server's URL is set. Every example is listed, running
 * or not, so that the demo catalog is complete; one that fails to start is reported, not fatal.
 */
export async function startExamples(
  config: LocalConfig,
  env: Readonly<Record<string, string | undefined>>,
  brokerUrl: string,
  logger: Logger,
): Promise<RunningExamples> {
  const closers: Array<() => Promise<void>> = [];
  const examples: ExampleStatus[] = [];
  let aiGateway: RunningAiGateway | undefined;

  const attempt = async (
    slug: string,
    port: number,
    manifest: (url: string) => ProviderManifestInput,
    start:
      | (() => Promise<{ url: string; manifest: ProviderManifestInput; close(): Promise<void>; detail: string }>)
      | string,
  ) => {
    if (typeof start === 'string') {
      examples.push({ slug, url: localUrl(port), running: false, detail: start, manifest: manifest(localUrl(port)) });
      return;
    }
    try {
      const running = await start();
      closers.push(() => running.close());
      examples.push({ slug, url: running.url, running: true, detail: running.detail, manifest: running.manifest });
    } catch (error) {
      if (error instanceof ConfigError) throw error; // a bad variable stops `npm start`, naming it
      logger.error({ err: error, example: slug }, 'example provider did not start');
      examples.push({
        slug,
        url: localUrl(port),
        running: false,
        detail: `failed to start: ${(error as Error).message}`,
        manifest: manifest(localUrl(port)),
      });
    }
  };

  await attempt(
    'annex-postgres',
    config.EXAMPLE_POSTGRES_PORT,
    postgresManifest,
    config.EXAMPLE_POSTGRES_URL
      ? async () => ({
          ...(await startPostgresExample({
            port: config.EXAMPLE_POSTGRES_PORT,
            brokerUrl,
            adminUrl: config.EXAMPLE_POSTGRES_URL as string,
          })),
          detail: 'databases on EXAMPLE_POSTGRES_URL',
        })
      : 'set EXAMPLE_POSTGRES_URL (a PostgreSQL server it may create databases and roles on) to run it',
  );
  await attempt(
    'annex-redis',
    config.EXAMPLE_REDIS_PORT,
    redisManifest,
    config.EXAMPLE_REDIS_URL
      ? async () => ({
          ...(await startRedisExample({
            port: config.EXAMPLE_REDIS_PORT,
            brokerUrl,
            redisUrl: config.EXAMPLE_REDIS_URL as string,
          })),
          detail: 'key spaces on EXAMPLE_REDIS_URL',
        })
      : 'set EXAMPLE_REDIS_URL (a Redis 6+ server with ACLs, as an admin user) to run it',
  );
  await attempt(
    'annex-ai',
    config.EXAMPLE_AI_PORT,
    aiManifest,
    config.EXAMPLE_AI_ENABLED
      ? async () => {
          const options = startOptionsFromConfig(loadAiGatewayConfig(env));
          aiGateway = await startAiGateway({
            ...options,
            port: config.EXAMPLE_AI_PORT,
            brokerUrl,
            logger: serviceLogger(logger, 'ai-gateway'),
          });
          const upstream = aiGateway.upstream.local
            ? 'local deterministic upstream (AI_GATEWAY_UPSTREAM_URL for a real one)'
            : `upstream ${aiGateway.upstream.baseUrl}`;
          return { ...aiGateway, detail: `OpenAI API at ${aiGateway.openAiBaseUrl}, ${upstream}` };
        }
      : 'EXAMPLE_AI_ENABLED=false',
  );

  return {
    examples,
    aiGateway,
    async close() {
      for (const close of closers.splice(0).reverse()) {
        await close().catch((error) => logger.error({ err: error }, 'closing an example provider'));
      }
    },
  };
}
