import { every, hourly, type JobKindOptions, type JobSchedule } from '@annex/platform';
import type { BrokerContext } from '../../shared/domain/context.js';
import { recordJobRun } from '../db/jobs.js';
import { runDunning } from './dunning.js';
import { runInvoicing } from './invoicing.js';
import { monthBounds, previousPeriod } from './money.js';
import { runPayouts } from './payouts.js';
import { runReconciliation } from './reconciliation.js';

// The billing jobs, run on the broker's job runner (docs/jobs.md); `billing_jobs` keeps each one's last run.

export type BillingJob = 'invoicing' | 'payouts' | 'dunning' | 'reconciliation';
export const BILLING_JOBS: readonly BillingJob[] = ['invoicing', 'payouts', 'dunning', 'reconciliation'];

/** Runs one job now (the worker, the admin endpoint and tests). */
export async function runBillingJob(
  ctx: BrokerContext,
  job: BillingJob,
  options: { period?: string | undefined; now?: Date } = {},
): Promise<Record<string, unknown>> {
  const now = options.now ?? new Date();
  const period = options.period ?? previousPeriod(now);
  switch (job) {
    case 'invoicing': {
      if (options.period) return { ...(await runInvoicing(ctx, period, now)) };
      // The month before too: usage for it was accepted until the month after it ended
      // (recordUsage), possibly after that month's last hourly run; an org invoiced already
      // costs nothing here, one with such late usage is invoiced now.
      const monthBefore = await runInvoicing(ctx, previousPeriod(monthBounds(period).start), now);
      return { ...(await runInvoicing(ctx, period, now)), monthBefore };
    }
    case 'payouts':
      return { ...(await runPayouts(ctx, period, now)) };
    case 'dunning':
      return { ...(await runDunning(ctx, now)) };
    case 'reconciliation':
      return { ...(await runReconciliation(ctx, now)) };
  }
}

/** The billing jobs as job-runner kinds, named `billing.<job>`. */
export type BillingJobKinds = { [J in BillingJob as `billing.${J}`]: Record<string, never> };

/**
 * The billing jobs for the broker's job runner. Each records its last run and result in
 * `billing_jobs` (for operators); a failure is retried by the runner's backoff and the
 * error is recorded too.
 */
export function billingJobKinds(ctx: BrokerContext): {
  [K in keyof BillingJobKinds]: JobKindOptions<BillingJobKinds[K]>;
} {
  const kind = (job: BillingJob): JobKindOptions<Record<string, never>> => ({
    maxAttempts: 5,
    backoff: { baseMs: 60_000, maxMs: 15 * 60_000 },
    run: async () => {
      let result: Record<string, unknown>;
      try {
        result = await runBillingJob(ctx, job);
      } catch (error) {
        await recordBillingRun(ctx, job, { error: (error as Error).message });
        throw error;
      }
      await recordBillingRun(ctx, job, result);
    },
  });
  return {
    'billing.invoicing': kind('invoicing'),
    'billing.payouts': kind('payouts'),
    'billing.dunning': kind('dunning'),
    'billing.reconciliation': kind('reconciliation'),
  };
}

/**
 * When the billing jobs run: invoicing, payouts and reconciliation hourly (at :05, :10 and
 * :15, so they do not start together), dunning every `dunningMs`. On a new installation
 * each waits for its first period to begin.
 */
export function billingSchedules(options: { dunningMs: number }): JobSchedule<keyof BillingJobKinds>[] {
  return [
    { kind: 'billing.invoicing', recurrence: hourly(5), firstRun: 'next-period' },
    { kind: 'billing.payouts', recurrence: hourly(10), firstRun: 'next-period' },
    { kind: 'billing.reconciliation', recurrence: hourly(15), firstRun: 'next-period' },
    { kind: 'billing.dunning', recurrence: every(options.dunningMs), firstRun: 'next-period' },
  ];
}

async function recordBillingRun(ctx: BrokerContext, job: BillingJob, result: Record<string, unknown>): Promise<void> {
  await recordJobRun(ctx.db, job, result);
}
