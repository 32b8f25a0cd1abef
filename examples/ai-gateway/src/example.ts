import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MemoryStore, type ProviderManifestInput, type ProviderStore, type ReplayStore } from '@annex/sdk';
import { PostgresReplayStore, PostgresStore } from '@annex/sdk/postgres';
import express from 'express';
import { createDashboard } from './dashboard.js';
import { createGatewayRouter, type GatewayPlan } from './gateway.js';
import { manifest as buildManifest } from './manifest.js';
import { assertPlansHaveLimits, meteredUnit, PLAN_LIMITS, type PlanLimits } from './plans.js';
import { createAiProvider } from './provider.js';
import { MemoryGatewayStore } from './state/memory.js';
import { PostgresGatewayStore } from './state/postgres.js';
import type { GatewayStore } from './state/store.js';
import { startUpstream } from './upstream/server.js';
import { UsageReporter } from './usage-reporter.js';

/** Where the gateway writes what it has to say (a pino logger fits). */
export interface GatewayLogger {
  info(message: string): void;
  warn(message: string): void;
  error(object: unknown, message?: string): void;
}

/**
 * Options of {@link startExample}.
 *
 * @example
 * const options: StartAiGatewayOptions = { port: 4103, brokerUrl: 'http://127.0.0.1:4001' };
 */
export interface StartAiGatewayOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** The broker's public URL: JWT issuer (JWKS at `/.well-known/jwks.json`) and usage-report endpoint. */
  brokerUrl: string;
  /** The URL the broker and apps reach the gateway at, if not `http://host:port`. */
  publicUrl?: string;
  /** The provider's API token for usage reports (`annex_provider_…`); without it, usage is kept pending. */
  providerToken?: string;
  /** An OpenAI-compatible base URL (e.g. `https://api.openai.com/v1`); unset: the local deterministic upstream. */
  upstreamUrl?: string;
  upstreamApiKey?: string;
  /** PostgreSQL for the SDK's protocol state and the gateway's keys, counters and usage; unset: in memory. */
  databaseUrl?: string;
  /** How often metered usage is sent to the broker (default 5000 ms). */
  usageReportIntervalMs?: number;
  /** Deadline of one upstream call (default 120 s). */
  upstreamTimeoutMs?: number;
  /** Limits by plan slug, replacing the published ones (tests, operators with other upstream budgets). */
  planLimits?: Readonly<Record<string, PlanLimits>>;
  /** Signs dashboard session cookies after SSO; give replicas the same one (default: random per process). */
  dashboardSecret?: string;
  /** The clock of rate windows, quota months and usage times (tests). */
  now?: () => number;
  logger?: GatewayLogger;
}

/**
 * The running gateway.
 *
 * @example
 * const gateway: RunningAiGateway = await startExample({ port: 0, brokerUrl });
 * console.log(gateway.openAiBaseUrl);
 */
export interface RunningAiGateway {
  /** The provider's OSB URL (`/v2/...`), also the manifest's `osb.url`. */
  url: string;
  /** What bound apps get as OPENAI_BASE_URL: `${url}/v1`. */
  openAiBaseUrl: string;
  /** The upstream requests are forwarded to, and whether it is the local one. */
  upstream: { baseUrl: string; local: boolean };
  /** `memory` or `postgres`. */
  storage: 'memory' | 'postgres';
  manifest: ProviderManifestInput;
  store: GatewayStore;
  /** Sends pending metered usage to the broker now (rejects if the broker did not take it). */
  flushUsage(): Promise<void>;
  /** Gives the usage reporter its provider token when it was not known at start. */
  setProviderToken(token: string): void;
  close(): Promise<void>;
}

const consoleLogger: GatewayLogger = {
  info: (message) => console.log(message),
  warn: (message) => console.warn(message),
  error: (object, message) => console.error(message ?? '', object),
};

/**
 * Serves the AI gateway: the provider's OSB API at `/v2`, the OpenAI-compatible API at
 * `/v1`, and the add-on dashboard behind SSO (`/sso` → `/dashboard/:instanceId`) on one port,
 * plus the local upstream on a free port when no upstream URL is given.
 *
 * @example
 * const gateway = await startExample({ port: 4103, brokerUrl: 'http://127.0.0.1:4001' });
 * // publish gateway.manifest to the catalog, attach the add-on, then call gateway.openAiBaseUrl
 * await gateway.close();
 */
export async function startExample(options: StartAiGatewayOptions): Promise<RunningAiGateway> {
  const host = options.host ?? '127.0.0.1';
  const logger = options.logger ?? consoleLogger;
  const now = options.now ?? Date.now;
  const limits = { ...PLAN_LIMITS, ...(options.planLimits ?? {}) };
  if (options.upstreamApiKey && !options.upstreamUrl) {
    throw new TypeError('upstreamApiKey is only used with upstreamUrl');
  }

  const closers: Array<() => Promise<void>> = [];
  const close = async () => {
    for (const closer of closers.splice(0).reverse()) {
      await closer().catch((error) => logger.error(error, 'ai-gateway: close'));
    }
  };
  try {
    const upstream = options.upstreamUrl
      ? { baseUrl: options.upstreamUrl.replace(/\/+$/, ''), local: false }
      : await startUpstream({ host, port: 0 }).then((local) => {
          closers.push(() => local.close());
          return { baseUrl: local.baseUrl, local: true };
        });

    let protocolStore: ProviderStore;
    let replayStore: ReplayStore | undefined;
    let store: GatewayStore;
    if (options.databaseUrl) {
      const pgStore = new PostgresStore({ connectionString: options.databaseUrl, tablePrefix: 'ai_gateway_osb' });
      const pgReplay = new PostgresReplayStore({
        connectionString: options.databaseUrl,
        tablePrefix: 'ai_gateway_osb',
      });
      protocolStore = pgStore;
      replayStore = pgReplay;
      closers.push(() => pgReplay.close());
      store = new PostgresGatewayStore({ connectionString: options.databaseUrl });
    } else {
      protocolStore = new MemoryStore();
      store = new MemoryGatewayStore();
    }
    const gatewayStore = store;
    closers.push(() => gatewayStore.close());
    await store.init();
    await protocolStore.init?.();

    // Listen first: with port 0 the URL, which the manifest and credentials carry, is known only now.
    const app = express();
    app.disable('x-powered-by');
    const server: Server = createServer(app);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, host, () => resolve());
    });
    closers.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    );
    const url = (options.publicUrl ?? `http://${host}:${(server.address() as AddressInfo).port}`).replace(/\/+$/, '');
    const openAiBaseUrl = `${url}/v1`;
    const manifest = buildManifest(url);
    assertPlansHaveLimits(manifest, limits);

    const plans = new Map<string, GatewayPlan>();
    for (const service of manifest.services) {
      for (const plan of service.plans) {
        plans.set(plan.id, { slug: plan.slug, limits: limits[plan.slug] as PlanLimits, unit: meteredUnit(plan) });
      }
    }
    const onError = (error: unknown, requestId: string) =>
      logger.error(error, `ai-gateway: request ${requestId} failed`);

    const dashboard = createDashboard({
      store,
      protocolStore,
      planSlugs: new Map([...plans].map(([id, plan]) => [id, plan.slug])),
      now,
      ...(options.dashboardSecret ? { secret: options.dashboardSecret } : {}),
    });
    const provider = createAiProvider({
      manifest,
      broker: { url: options.brokerUrl, ...(replayStore ? { replayStore } : {}) },
      protocolStore,
      store,
      openAiBaseUrl,
      now,
      onError,
      sso: dashboard.signIn,
    });
    closers.push(() => provider.close());
    const reporter = new UsageReporter(store, {
      brokerUrl: options.brokerUrl,
      token: options.providerToken,
      intervalMs: options.usageReportIntervalMs ?? 5_000,
      log: (level, message) =>
        level === 'error' ? logger.error({}, `ai-gateway: ${message}`) : logger[level](`ai-gateway: ${message}`),
    });
    reporter.start();
    closers.push(() => reporter.close());
    // Ended rate windows are of no use; forget them every minute.
    const pruning = setInterval(() => {
      void store.pruneRateWindows(now() - 120_000).catch((error) => logger.error(error, 'ai-gateway: pruning'));
    }, 60_000);
    pruning.unref();
    closers.push(async () => clearInterval(pruning));

    app.use(
      '/v1',
      createGatewayRouter({
        store,
        protocolStore,
        plans,
        upstream: {
          baseUrl: upstream.baseUrl,
          apiKey: options.upstreamApiKey,
          timeoutMs: options.upstreamTimeoutMs ?? 120_000,
        },
        now,
        onError,
      }),
    );
    app.use(dashboard.router());
    app.use(provider.router());

    return {
      url,
      openAiBaseUrl,
      upstream,
      storage: options.databaseUrl ? 'postgres' : 'memory',
      manifest,
      store,
      flushUsage: () => reporter.flush(),
      setProviderToken: (token: string) => reporter.setToken(token),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
