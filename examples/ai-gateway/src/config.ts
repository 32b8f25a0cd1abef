import { logLevel, parseEnvironment, port, postgresUrl } from '@annex/platform';
import * as z from 'zod';
import type { StartAiGatewayOptions } from './example.js';

const httpUrl = z.url({ protocol: /^https?$/, message: 'expected an http(s) URL' });

const schema = z
  .object({
    /** Where the gateway listens (on 127.0.0.1): OSB at /v2, the OpenAI API at /v1. */
    EXAMPLE_AI_PORT: port(4103),
    /** The URL the broker and apps reach the gateway at, when not http://host:port (a proxy in front). */
    EXAMPLE_AI_PUBLIC_URL: httpUrl.optional(),
    /** The broker to trust and report usage to. */
    ANNEX_BROKER_URL: httpUrl.default('http://127.0.0.1:4001'),
    /** The provider's API token, for usage reports. */
    EXAMPLE_AI_PROVIDER_TOKEN: z.string().min(1).optional(),
    /** A real OpenAI-compatible upstream (e.g. https://api.openai.com/v1) instead of the local one. */
    AI_GATEWAY_UPSTREAM_URL: httpUrl.optional(),
    AI_GATEWAY_UPSTREAM_API_KEY: z.string().min(1).optional(),
    /** PostgreSQL for keys, counters and usage (and the SDK's protocol state) instead of memory. */
    EXAMPLE_AI_DATABASE_URL: postgresUrl.optional(),
    EXAMPLE_AI_USAGE_REPORT_INTERVAL_MS: z.coerce.number().int().min(100).default(5_000),
    /** Signs dashboard session cookies; the same on every replica (random per process when unset). */
    EXAMPLE_AI_DASHBOARD_SECRET: z.string().min(32, { message: 'at least 32 characters' }).optional(),
    LOG_LEVEL: logLevel,
  })
  .superRefine((env, ctx) => {
    if (env.EXAMPLE_AI_DATABASE_URL && !env.EXAMPLE_AI_DASHBOARD_SECRET) {
      // Shared state means replicas; a per-process secret would sign out users on every other one.
      ctx.addIssue({
        code: 'custom',
        path: ['EXAMPLE_AI_DASHBOARD_SECRET'],
        message: 'required with EXAMPLE_AI_DATABASE_URL (every replica must sign dashboard sessions alike)',
      });
    }
    if (env.AI_GATEWAY_UPSTREAM_API_KEY && !env.AI_GATEWAY_UPSTREAM_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['AI_GATEWAY_UPSTREAM_API_KEY'],
        message: 'set AI_GATEWAY_UPSTREAM_URL too (the local upstream needs no key)',
      });
    }
  });

export type AiGatewayConfig = Readonly<z.infer<typeof schema>>;

/**
 * Reads the gateway's environment once; throws `ConfigError` naming each bad variable.
 *
 * @example
 * const config = loadAiGatewayConfig(process.env);
 */
export function loadAiGatewayConfig(env: Readonly<Record<string, string | undefined>>): AiGatewayConfig {
  return parseEnvironment(schema, env);
}

/**
 * The {@link startExample} options a configuration gives (port and broker included;
 * `npm start` overrides those with its own).
 *
 * @example
 * await startExample({ ...startOptionsFromConfig(loadAiGatewayConfig(process.env)), port: 0 });
 */
export function startOptionsFromConfig(config: AiGatewayConfig): StartAiGatewayOptions {
  return {
    port: config.EXAMPLE_AI_PORT,
    brokerUrl: config.ANNEX_BROKER_URL,
    usageReportIntervalMs: config.EXAMPLE_AI_USAGE_REPORT_INTERVAL_MS,
    ...(config.EXAMPLE_AI_PUBLIC_URL ? { publicUrl: config.EXAMPLE_AI_PUBLIC_URL } : {}),
    ...(config.EXAMPLE_AI_PROVIDER_TOKEN ? { providerToken: config.EXAMPLE_AI_PROVIDER_TOKEN } : {}),
    ...(config.AI_GATEWAY_UPSTREAM_URL ? { upstreamUrl: config.AI_GATEWAY_UPSTREAM_URL } : {}),
    ...(config.AI_GATEWAY_UPSTREAM_API_KEY ? { upstreamApiKey: config.AI_GATEWAY_UPSTREAM_API_KEY } : {}),
    ...(config.EXAMPLE_AI_DATABASE_URL ? { databaseUrl: config.EXAMPLE_AI_DATABASE_URL } : {}),
    ...(config.EXAMPLE_AI_DASHBOARD_SECRET ? { dashboardSecret: config.EXAMPLE_AI_DASHBOARD_SECRET } : {}),
  };
}
