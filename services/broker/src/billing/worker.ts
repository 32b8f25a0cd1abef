import { sql } from 'kysely';
import type { BrokerContext } from '../domain/context.js';
import { runDunning } from './dunning.js';
import { runInvoicing } from './invoicing.js';
import { monthBounds, previousPeriod } from './money.js';
import { runPayouts } from './payouts.js';
import { runReconciliation } from './reconciliation.js';

// The billing jobs, run by whichever replica holds a job's lease row in `billing_jobs`.

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

/** Takes the job's lease when it is free and the job is due; false when another replica has it. */
async function lease(ctx: BrokerContext, job: BillingJob, everyMs: number, leaseMs: number): Promise<boolean> {
  await ctx.db
    .insertInto('billing_jobs')
    .values({ name: job })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const taken = await sql<{ name: string }>`
    update billing_jobs set lease_owner = ${ctx.replicaId}, lease_expires_at = now() + ${`${leaseMs} milliseconds`}::interval
    where name = ${job}
      and (lease_expires_at is null or lease_expires_at <= now())
      and (last_run_at is null or last_run_at <= now() - ${`${everyMs} milliseconds`}::interval)
    returning name`.execute(ctx.db);
  return taken.rows.length === 1;
}

export interface BillingWorker {
  stop(): Promise<void>;
}

export function startBillingWorker(ctx: BrokerContext, options: { intervalMs: number }): BillingWorker {
  let stopped = false;
  let running: Promise<void> | undefined;
  const every: Record<BillingJob, number> = {
    invoicing: 3_600_000,
    payouts: 3_600_000,
    dunning: options.intervalMs,
    reconciliation: 3_600_000,
  };
  async function pass() {
    for (const job of BILLING_JOBS) {
      if (stopped) return;
      if (!(await lease(ctx, job, every[job], 15 * 60_000))) continue;
      let result: Record<string, unknown>;
      try {
        result = await runBillingJob(ctx, job);
      } catch (error) {
        ctx.logger.warn({ err: error, job }, 'billing job failed; retried on a later pass');
        result = { error: (error as Error).message };
      }
      await ctx.db
        .updateTable('billing_jobs')
        .set({
          lease_owner: null,
          lease_expires_at: null,
          last_run_at: sql`now()`,
          last_result: JSON.stringify(result),
        })
        .where('name', '=', job)
        .where('lease_owner', '=', ctx.replicaId)
        .execute();
    }
  }
  let timer: NodeJS.Timeout | undefined;
  const loop = async () => {
    if (stopped) return;
    running = pass().catch((error) => ctx.logger.warn({ err: error }, 'billing worker pass failed'));
    await running;
    if (!stopped) timer = setTimeout(loop, options.intervalMs);
  };
  timer = setTimeout(loop, options.intervalMs);
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
