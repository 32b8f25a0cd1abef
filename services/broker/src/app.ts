import { randomUUID } from 'node:crypto';
import type { RequestListener } from 'node:http';
import { hostname } from 'node:os';
import { createObservability, type Database, type Logger, SecretBox } from '@annex/platform';
import { TRACING_OFF, Tracer, traceRequests } from '@annex/tracing';
import express from 'express';
import { appsProviderRoutes, appsRouter, LiveEvents } from './apps/index.js';
import { billingProviderRoutes, billingRouter, createBilling } from './billing/index.js';
import type { BrokerConfig } from './config.js';
import { type BrokerJobRunner, createBrokerJobRunner } from './jobs.js';
import { openApiRouter } from './openapi/index.js';
import {
  isOsbPath,
  osbError,
  osbErrorHandler,
  osbHandler,
  ProviderCallLog,
  ProviderClient,
  providerHealthRoutes,
  providerRouter,
  sealPlainParameters,
} from './osb/index.js';
import { TtlCache } from './shared/domain/cache.js';
import type { BrokerContext } from './shared/domain/context.js';
import { ensureSigningKey, RequestSigner } from './shared/domain/signing.js';
import { providerPortalRouter } from './shared/http/provider-portal.js';
import { ssoRouter } from './sso/index.js';

export interface BrokerDeps {
  database: Database;
  logger: Logger;
  /** Seals binding credentials and signing keys; required (see ANNEX_ENCRYPTION_KEYS). */
  secretBox: SecretBox;
  /** Hold every `/v1` answer to its contract (@annex/contracts/v1), failing the request when one is not; for tests. */
  checkAnswers?: boolean;
}

export interface Broker {
  /**
   * The broker's request listener: the OSB API (`/v2`) served by node:http directly,
   * everything else by express.
   */
  app: RequestListener;
  /** The domain context (for tests, benchmarks and in-process callers such as `rotateSigningKey`). */
  context: BrokerContext;
  /** The record of provider calls, written about every second once started (`flush` writes now). */
  providerCalls: ProviderCallLog;
  /**
   * Makes sure a signing key exists, starts writing the provider call record, seals parameters
   * still stored in plain text, starts the job runner.
   */
  start(): Promise<void>;
  /** Stops the job runner, waits for provider calls still running in the background, writes their record. */
  close(): Promise<void>;
}

/**
 * Builds the broker: the OSB API under `/v2`, the JWKS at `/.well-known/jwks.json`,
 * health and metrics. No listening, no migrations, no environment reads.
 *
 * @example
 * const broker = createBroker(loadBrokerConfig(process.env), { database, logger, secretBox });
 * await broker.start();
 * createServer(broker.app).listen(4001, '127.0.0.1');
 */
export function createBroker(config: BrokerConfig, deps: BrokerDeps): Broker {
  const { database, logger, secretBox } = deps;
  const signer = new RequestSigner(database.db, secretBox, config.publicUrl);
  const tracer = new Tracer(config.tracing ?? TRACING_OFF);
  const providerCalls = new ProviderCallLog(database.db, logger);
  const context: BrokerContext = {
    db: database.db,
    database,
    liveEvents: new LiveEvents(database, logger),
    secretBox,
    logger,
    signer,
    providers: new ProviderClient(signer, secretBox, config.providerTimeoutMs, config.outbound, providerCalls),
    outbound: config.outbound,
    billing: createBilling(config.billing),
    settings: {
      syncWaitMs: config.syncWaitMs,
      syncRecordAfterMs: config.syncRecordAfterMs,
      leaseMs: config.leaseMs,
      maxPollingSeconds: config.maxPollingSeconds,
      rotationGraceSeconds: config.apps.rotationGraceSeconds,
    },
    replicaId: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
    background: new Set(),
    caches: { plans: new TtlCache(5_000), providers: new TtlCache(5_000) },
    tracer,
  };
  const observability = createObservability({ service: 'broker', logger, ready: () => database.ping() });
  const app = express();
  app.disable('x-powered-by');
  app.use(observability.requestContext);
  app.use(observability.routes);
  app.get('/.well-known/jwks.json', async (_req, res, next) => {
    try {
      res.setHeader('cache-control', 'public, max-age=30');
      res.json(await signer.jwks());
    } catch (error) {
      next(error);
    }
  });
  app.use(openApiRouter({ serverUrl: config.publicUrl }));
  app.use('/v1/provider', providerRouter(context, { wakeWebhooks: () => jobs?.runner.wake() }));
  // A provider's own data: each module adds its routes to the list.
  app.use(
    '/v1/providers',
    providerPortalRouter(context, [providerHealthRoutes, appsProviderRoutes, billingProviderRoutes], {
      checkAnswers: deps.checkAnswers ?? false,
    }),
  );
  app.use('/v1/billing', billingRouter(context));
  app.use('/v1', ssoRouter(context));
  app.use(
    '/v1',
    appsRouter(context, { wakeWebhooks: () => jobs?.runner.wake(), checkAnswers: deps.checkAnswers ?? false }),
  );
  app.use((_req, res) => {
    osbError(res, 404, 'NotFound', 'not found');
  });
  app.use(osbErrorHandler);

  const osb = osbHandler(context, observability);
  const listener: RequestListener = traceRequests(tracer, (req, res) => {
    if (isOsbPath(req.url)) osb(req, res);
    else app(req, res);
  });

  let jobs: BrokerJobRunner | undefined;
  return {
    app: listener,
    context,
    providerCalls,
    async start() {
      await ensureSigningKey(database.db, secretBox);
      providerCalls.start();
      // Rows written before parameters were kept sealed (domain/parameters.ts).
      const sealed = await sealPlainParameters(database.db, secretBox);
      if (sealed > 0) logger.info({ rows: sealed }, 'sealed parameters stored in plain text');
      if (config.workers && !jobs) {
        jobs = createBrokerJobRunner(context, config, logger);
        await jobs.start();
      }
    },
    async close() {
      await jobs?.stop();
      jobs = undefined;
      await Promise.allSettled([...context.background]);
      await providerCalls.stop();
      context.providers.close();
      await tracer.shutdown();
    },
  };
}

export { SecretBox };
