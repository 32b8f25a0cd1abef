import {
  encryptionKeySpec,
  flag,
  logLevel,
  type OutboundPolicy,
  optionalFlag,
  outboundPolicyOf,
  parseEnvironment,
  port,
  postgresUrl,
  tracingFromEnvironment,
} from '@annex/platform';
import type { TracingConfig } from '@annex/tracing';
import * as z from 'zod';
import type { DocumentLimits } from './graphql/limits.js';

const limit = (defaultValue: number) => z.coerce.number().int().positive().default(defaultValue);

const schema = z.object({
  CATALOG_HOST: z.string().min(1).default('127.0.0.1'),
  CATALOG_PORT: port(4000),
  DATABASE_URL: postgresUrl.optional(),
  ANNEX_DATA_DIR: z.string().min(1).default('.annex'),
  ANNEX_ENCRYPTION_KEYS: encryptionKeySpec.optional(),
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: logLevel,
  CATALOG_INTROSPECTION: optionalFlag(),
  /** Whether providers' OSB URLs may point into private networks (the broker's variable too). */
  ANNEX_ALLOW_PRIVATE_NETWORKS: optionalFlag(),
  CATALOG_GRAPHIQL: optionalFlag(),
  CATALOG_MAX_DEPTH: limit(12),
  CATALOG_MAX_ALIASES: limit(15),
  CATALOG_MAX_COST: limit(20_000),
  CATALOG_MAX_QUERY_BYTES: limit(64 * 1024),
  CATALOG_MAX_TOKENS: limit(600),
  CATALOG_MAX_DIRECTIVES: limit(50),
  CATALOG_RESPONSE_CACHE: flag(true),
  CATALOG_CACHE_CHECK_MS: z.coerce.number().int().min(0).default(250),
  CATALOG_CACHE_ENTRIES: limit(2_000),
  CATALOG_BROKER_URL: z
    .url({ protocol: /^https?$/, message: 'expected an http(s) URL such as http://127.0.0.1:4001' })
    .default('http://127.0.0.1:4001'),
});

export interface CatalogConfig {
  host: string;
  port: number;
  /** PostgreSQL when set; PGlite under `dataDir` otherwise. */
  databaseUrl: string | undefined;
  dataDir: string;
  /** SecretBox key spec; seals provider broker passwords and dashboard client secrets. */
  encryptionKeys: string | undefined;
  nodeEnv: 'development' | 'production' | 'test';
  /** Where providers' OSB URLs may point; off for private networks in production. */
  outbound: OutboundPolicy;
  /** Traces from the `OTEL_*` variables (docs/observability.md); off when absent. */
  tracing?: TracingConfig;
  logLevel: z.infer<typeof logLevel>;
  /** Schema introspection; off in production unless CATALOG_INTROSPECTION=true. */
  introspection: boolean;
  /** GraphiQL at /graphql; off in production unless CATALOG_GRAPHIQL=true. */
  graphiql: boolean;
  /** What one GraphQL document may cost before it runs (size, tokens, directives, depth, aliases, cost). */
  limits: DocumentLimits;
  /**
   * Query results cached until the catalog changes. A publish through this process
   * invalidates at once; one through another replica is seen within `checkIntervalMs`.
   */
  responseCache: { enabled: boolean; checkIntervalMs: number; maxEntries: number };
  /** The broker's base URL (no trailing slash); apps and add-ons are answered by its `/v1` API. */
  brokerUrl: string;
}

/**
 * Reads the catalog's configuration from the environment once; throws `ConfigError`
 * naming each bad variable.
 *
 * @example
 * const config = loadCatalogConfig(process.env);
 */
export function loadCatalogConfig(env: Readonly<Record<string, string | undefined>>): Readonly<CatalogConfig> {
  const parsed = parseEnvironment(
    schema.superRefine(
      (value, ctx) => {
        if (value.DATABASE_URL && !value.ANNEX_ENCRYPTION_KEYS) {
          ctx.addIssue({
            code: 'custom',
            path: ['ANNEX_ENCRYPTION_KEYS'],
            message:
              'required when DATABASE_URL is set (secrets in a shared database must be sealed with a stable key)',
          });
        }
      },
      // Run even when other variables are invalid, so one start-up names every problem.
      { when: () => true },
    ),
    env,
  );
  const production = parsed.NODE_ENV === 'production';
  return Object.freeze({
    host: parsed.CATALOG_HOST,
    port: parsed.CATALOG_PORT,
    databaseUrl: parsed.DATABASE_URL,
    dataDir: parsed.ANNEX_DATA_DIR,
    encryptionKeys: parsed.ANNEX_ENCRYPTION_KEYS,
    nodeEnv: parsed.NODE_ENV,
    outbound: outboundPolicyOf(parsed.ANNEX_ALLOW_PRIVATE_NETWORKS, parsed.NODE_ENV),
    tracing: tracingFromEnvironment(env, 'annex-catalog'),
    logLevel: parsed.LOG_LEVEL,
    introspection: parsed.CATALOG_INTROSPECTION ?? !production,
    graphiql: parsed.CATALOG_GRAPHIQL ?? !production,
    limits: Object.freeze({
      maxDepth: parsed.CATALOG_MAX_DEPTH,
      maxAliases: parsed.CATALOG_MAX_ALIASES,
      maxCost: parsed.CATALOG_MAX_COST,
      maxQueryBytes: parsed.CATALOG_MAX_QUERY_BYTES,
      maxTokens: parsed.CATALOG_MAX_TOKENS,
      maxDirectives: parsed.CATALOG_MAX_DIRECTIVES,
    }),
    responseCache: Object.freeze({
      enabled: parsed.CATALOG_RESPONSE_CACHE,
      checkIntervalMs: parsed.CATALOG_CACHE_CHECK_MS,
      maxEntries: parsed.CATALOG_CACHE_ENTRIES,
    }),
    brokerUrl: parsed.CATALOG_BROKER_URL.replace(/\/+$/, ''),
  });
}
