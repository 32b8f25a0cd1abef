import { createJobRunner, every, type JobRunner, type Logger } from '@annex/platform';
import { type AppsReconcilePass, appsReconcileJobKind, type WebhooksPass, webhookDeliveries } from './apps/index.js';
import { type BillingJobKinds, billingJobKinds, billingSchedules } from './billing/index.js';
import type { BrokerConfig } from './config.js';
import {
  type OperationsPass,
  operationsJobKind,
  providerCallsPruneJobKind,
  providerCallsPruneSchedule,
} from './osb/index.js';
import type { BrokerContext } from './shared/domain/context.js';

/** Every background job the broker runs, by kind (docs/jobs.md). */
export type BrokerJobs = BillingJobKinds & {
  'broker.operations': OperationsPass;
  'apps.reconcile': AppsReconcilePass;
  'apps.webhooks': WebhooksPass;
  'osb.provider-calls.prune': Record<string, never>;
};

/** The jobs that drain a table of work; triggers enqueue them as rows become due. */
const PASSES = ['broker.operations', 'apps.reconcile', 'apps.webhooks'] as const;

// Work a request leased and then dropped (its process died, or it threw) enqueues nothing:
// a pass of each table this often, once across replicas, finds it after its lease ends. A
// broker that starts makes one too, so a restarted replica picks such work up sooner.
const SAFETY_PASS_MS = 5 * 60_000;

export interface BrokerJobRunner {
  runner: JobRunner<BrokerJobs>;
  /** Starts the runner and looks at every table once (work left by a stopped replica). */
  start(): Promise<void>;
  /** Stops the runner, then interrupts webhook requests still in flight. */
  stop(): Promise<void>;
}

/** The broker's one job runner: every module's kinds and schedules. */
export function createBrokerJobRunner(ctx: BrokerContext, config: BrokerConfig, logger: Logger): BrokerJobRunner {
  let runner: JobRunner<BrokerJobs> | undefined;
  const webhooks = webhookDeliveries(
    ctx,
    {
      concurrency: config.workerConcurrency,
      maxAttempts: config.webhooks.maxAttempts,
      retryBaseMs: config.webhooks.retryBaseMs,
      timeoutMs: config.webhooks.timeoutMs,
    },
    async () => runner?.enqueue('apps.webhooks', {}, { key: 'pass' }),
  );
  runner = createJobRunner<BrokerJobs>(ctx.database, {
    logger,
    owner: `${ctx.replicaId}:jobs`,
    concurrency: config.workerConcurrency,
    fallbackMs: config.jobsFallbackMs,
    kinds: {
      ...billingJobKinds(ctx),
      'broker.operations': operationsJobKind(ctx, { concurrency: config.workerConcurrency }),
      'apps.reconcile': appsReconcileJobKind(ctx, { recheckMs: Math.max(500, config.apps.reconcileMs * 2) }),
      'apps.webhooks': webhooks.kind,
      'osb.provider-calls.prune': providerCallsPruneJobKind(ctx),
    },
    schedules: [
      ...billingSchedules({ dunningMs: config.billing.jobsMs }),
      providerCallsPruneSchedule,
      ...PASSES.map((kind) => ({ kind, name: `${kind}.safety`, key: 'pass', recurrence: every(SAFETY_PASS_MS) })),
    ],
  });
  const jobs = runner;
  return {
    runner: jobs,
    async start() {
      await jobs.start();
      for (const kind of PASSES) await jobs.enqueue(kind, {}, { key: 'pass' });
    },
    async stop() {
      await jobs.stop();
      await webhooks.stop();
    },
  };
}
