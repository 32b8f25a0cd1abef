import { createJobRunner, type Database, type JobRunner, type Logger } from '@annex/platform';
import { type BillingJobKinds, billingJobKinds, billingSchedules } from './billing/worker.js';
import type { BrokerConfig } from './config.js';
import type { BrokerContext } from './domain/context.js';

/** Every background job the broker runs, by kind (docs/jobs.md). */
export type BrokerJobs = BillingJobKinds;

/** The broker's one job runner: every module's kinds and schedules. */
export function createBrokerJobRunner(
  ctx: BrokerContext,
  database: Database,
  config: BrokerConfig,
  logger: Logger,
): JobRunner<BrokerJobs> {
  return createJobRunner<BrokerJobs>(database, {
    logger,
    owner: `${ctx.replicaId}:jobs`,
    concurrency: config.workerConcurrency,
    kinds: { ...billingJobKinds(ctx) },
    schedules: [...billingSchedules({ dunningMs: config.billing.jobsMs })],
  });
}
