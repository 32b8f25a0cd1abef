import {
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

const milliseconds = (fallback: number) => z.coerce.number().int().min(1).default(fallback);

const schema = z
  .object({
    BROKER_HOST: z.string().default('127.0.0.1'),
    BROKER_PORT: port(4001),
    BROKER_PUBLIC_URL: z.url({ message: 'expected an http(s) URL' }).optional(),
    DATABASE_URL: postgresUrl.optional(),
    ANNEX_DATA_DIR: z.string().default('.annex'),
    ANNEX_ENCRYPTION_KEYS: z.string().optional(),
    /** Deadline of one call to a provider. */
    BROKER_PROVIDER_TIMEOUT_MS: milliseconds(60_000),
    /** How long a request with accepts_incomplete=true waits for the provider before answering 202. */
    BROKER_SYNC_WAIT_MS: milliseconds(5_000),
    /**
     * A synchronous provision whose provider has not answered within this long gets its
     * start record; one answered sooner is recorded whole, in one statement (0: always
     * write the start record first).
     */
    BROKER_SYNC_RECORD_AFTER_MS: z.coerce.number().int().min(0).max(1_000).default(50),
    /** How long a replica owns an operation it is executing; must exceed the provider deadline. */
    BROKER_LEASE_MS: z.coerce.number().int().min(1).optional(),
    /**
     * The longest the job runner sleeps with nothing to wake it (new work wakes it at once):
     * then it looks for work it was not told of and fails jobs whose runner died.
     */
    JOBS_FALLBACK_MS: z.coerce.number().int().min(100).default(60_000),
    BROKER_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(200).default(10),
    /** Polling gives up after this when a plan has no maximum_polling_duration. */
    BROKER_MAX_POLLING_SECONDS: z.coerce.number().int().min(1).default(86_400),
    BROKER_WORKERS: flag(true),
    /** How often the apps reconciler looks for add-ons and attachments to move forward. */
    APPS_RECONCILE_MS: milliseconds(250),
    /** How long an old binding stays valid after a rotation unless every app confirms sooner. */
    APPS_ROTATION_GRACE_SECONDS: z.coerce.number().int().min(0).default(3_600),
    /** Webhook deliveries: attempts before a delivery is marked failed, first retry delay, deadline. */
    WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(8),
    WEBHOOK_RETRY_BASE_MS: milliseconds(2_000),
    WEBHOOK_TIMEOUT_MS: milliseconds(10_000),
    /**
     * Whether webhook URLs and providers' OSB URLs may point to loopback, private,
     * link-local or reserved addresses. Unset: yes, except when NODE_ENV=production.
     */
    ANNEX_ALLOW_PRIVATE_NETWORKS: optionalFlag(),
    /** Billing (docs/billing.md): without a secret key billing is ledger-only. */
    STRIPE_SECRET_KEY: z.string().min(1).optional(),
    STRIPE_WEBHOOK_SECRET: z.string().min(1).optional(),
    /** Where the Stripe SDK sends requests (tests: a local fake), e.g. http://127.0.0.1:12111. */
    STRIPE_API_BASE: z.url({ message: 'expected an http(s) URL' }).optional(),
    BILLING_GRACE_DAYS: z.coerce.number().min(0).max(90).default(7),
    /** The provider's share of revenue unless set per provider. */
    BILLING_DEFAULT_REVENUE_SHARE: z.coerce.number().min(0).max(1).default(0.8),
    /** How often dunning runs (at least a second); the other billing jobs run hourly. */
    BILLING_JOBS_MS: z.coerce.number().int().min(1_000).default(60_000),
    LOG_LEVEL: logLevel,
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  })
  .superRefine((env, ctx) => {
    if (env.DATABASE_URL && !env.ANNEX_ENCRYPTION_KEYS) {
      ctx.addIssue({
        code: 'custom',
        path: ['ANNEX_ENCRYPTION_KEYS'],
        message: 'required with DATABASE_URL (id:base64key[,id:base64key...])',
      });
    }
    if (env.STRIPE_SECRET_KEY && !env.STRIPE_WEBHOOK_SECRET) {
      ctx.addIssue({
        code: 'custom',
        path: ['STRIPE_WEBHOOK_SECRET'],
        message: 'required with STRIPE_SECRET_KEY (the signing secret of the webhook endpoint, whsec_…)',
      });
    }
    if (env.BROKER_LEASE_MS !== undefined && env.BROKER_LEASE_MS <= env.BROKER_PROVIDER_TIMEOUT_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['BROKER_LEASE_MS'],
        message: 'must be longer than BROKER_PROVIDER_TIMEOUT_MS',
      });
    }
  });

export interface BrokerConfig {
  host: string;
  port: number;
  /** The JWT `iss` of calls to providers, and where providers find the JWKS. */
  publicUrl: string;
  databaseUrl: string | undefined;
  dataDir: string;
  encryptionKeys: string | undefined;
  providerTimeoutMs: number;
  syncWaitMs: number;
  syncRecordAfterMs: number;
  leaseMs: number;
  /** The job runner's longest sleep (JOBS_FALLBACK_MS). */
  jobsFallbackMs: number;
  workerConcurrency: number;
  maxPollingSeconds: number;
  workers: boolean;
  apps: { reconcileMs: number; rotationGraceSeconds: number };
  webhooks: { maxAttempts: number; retryBaseMs: number; timeoutMs: number };
  billing: {
    stripeSecretKey: string | undefined;
    stripeWebhookSecret: string | undefined;
    stripeApi: { host: string; port: number; protocol: 'http' | 'https' } | undefined;
    graceDays: number;
    defaultRevenueShare: number;
    jobsMs: number;
  };
  logLevel: string;
  nodeEnv: 'development' | 'production' | 'test';
  /** Where user-supplied URLs (webhooks, providers' OSB endpoints) may point. */
  outbound: OutboundPolicy;
  /** Traces from the `OTEL_*` variables (docs/observability.md); off when absent. */
  tracing?: TracingConfig;
}

/** Reads the broker's configuration from the environment once; throws `ConfigError` naming each bad variable. */
export function loadBrokerConfig(env: Readonly<Record<string, string | undefined>>): BrokerConfig {
  const parsed = parseEnvironment(schema, env);
  return Object.freeze({
    host: parsed.BROKER_HOST,
    port: parsed.BROKER_PORT,
    publicUrl: (parsed.BROKER_PUBLIC_URL ?? `http://127.0.0.1:${parsed.BROKER_PORT}`).replace(/\/+$/, ''),
    databaseUrl: parsed.DATABASE_URL,
    dataDir: parsed.ANNEX_DATA_DIR,
    encryptionKeys: parsed.ANNEX_ENCRYPTION_KEYS,
    providerTimeoutMs: parsed.BROKER_PROVIDER_TIMEOUT_MS,
    syncWaitMs: parsed.BROKER_SYNC_WAIT_MS,
    syncRecordAfterMs: parsed.BROKER_SYNC_RECORD_AFTER_MS,
    leaseMs: parsed.BROKER_LEASE_MS ?? parsed.BROKER_PROVIDER_TIMEOUT_MS + 15_000,
    jobsFallbackMs: parsed.JOBS_FALLBACK_MS,
    workerConcurrency: parsed.BROKER_WORKER_CONCURRENCY,
    maxPollingSeconds: parsed.BROKER_MAX_POLLING_SECONDS,
    workers: parsed.BROKER_WORKERS,
    apps: { reconcileMs: parsed.APPS_RECONCILE_MS, rotationGraceSeconds: parsed.APPS_ROTATION_GRACE_SECONDS },
    webhooks: {
      maxAttempts: parsed.WEBHOOK_MAX_ATTEMPTS,
      retryBaseMs: parsed.WEBHOOK_RETRY_BASE_MS,
      timeoutMs: parsed.WEBHOOK_TIMEOUT_MS,
    },
    billing: {
      stripeSecretKey: parsed.STRIPE_SECRET_KEY,
      stripeWebhookSecret: parsed.STRIPE_WEBHOOK_SECRET,
      stripeApi: stripeApi(parsed.STRIPE_API_BASE),
      graceDays: parsed.BILLING_GRACE_DAYS,
      defaultRevenueShare: parsed.BILLING_DEFAULT_REVENUE_SHARE,
      jobsMs: parsed.BILLING_JOBS_MS,
    },
    logLevel: parsed.LOG_LEVEL,
    nodeEnv: parsed.NODE_ENV,
    outbound: outboundPolicyOf(parsed.ANNEX_ALLOW_PRIVATE_NETWORKS, parsed.NODE_ENV),
    tracing: tracingFromEnvironment(env, 'annex-broker'),
  });
}

function stripeApi(base: string | undefined): BrokerConfig['billing']['stripeApi'] {
  if (!base) return undefined;
  const url = new URL(base);
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  return { host: url.hostname, port: Number(url.port || (protocol === 'http' ? 80 : 443)), protocol };
}
