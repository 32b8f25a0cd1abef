import { sql } from 'kysely';
import { recordEvent } from '../../apps/index.js';
import type { Executor } from '../../shared/db/executor.js';
import type { BrokerContext } from '../../shared/domain/context.js';

// Dunning: a failed payment makes the account past due; after the grace period its add-ons
// are suspended (never deleted); the last unpaid invoice being paid restores them.

/** Marks the org past due from `failedAt` (the earliest failure counts). */
export async function markPastDue(trx: Executor, organizationId: string, failedAt: Date): Promise<void> {
  await trx
    .insertInto('billing_accounts')
    .values({ organization_id: organizationId })
    .onConflict((oc) => oc.column('organization_id').doNothing())
    .execute();
  await trx
    .updateTable('billing_accounts')
    .set({
      status: sql`case when status = 'suspended' then 'suspended' else 'past_due' end`,
      past_due_since: sql`least(coalesce(past_due_since, ${failedAt}), ${failedAt})`,
      updated_at: sql`now()`,
    })
    .where('organization_id', '=', organizationId)
    .execute();
}

/** Back to good standing when no invoice of the org is still unpaid after a failure; restores add-ons. */
export async function restoreIfSettled(trx: Executor, organizationId: string): Promise<number> {
  const unpaid = await trx
    .selectFrom('invoices')
    .select('id')
    .where('organization_id', '=', organizationId)
    .where('state', '=', 'payment_failed')
    .executeTakeFirst();
  if (unpaid) return 0;
  await trx
    .updateTable('billing_accounts')
    .set({ status: 'good', past_due_since: null, updated_at: sql`now()` })
    .where('organization_id', '=', organizationId)
    .where('status', '!=', 'good')
    .execute();
  const restored = await trx
    .updateTable('addons')
    .set({ state: 'provisioned', last_error: null, updated_at: sql`now()` })
    .where('organization_id', '=', organizationId)
    .where('state', '=', 'suspended')
    .returning(['id', 'app_id', 'name'])
    .execute();
  for (const addon of restored) {
    await recordEvent(trx, addon.app_id, addon.id, 'addon.restored', { addon: addon.name, reason: 'invoice paid' });
  }
  return restored.length;
}

async function suspendOrg(trx: Executor, organizationId: string): Promise<number> {
  await trx
    .updateTable('billing_accounts')
    .set({ status: 'suspended', updated_at: sql`now()` })
    .where('organization_id', '=', organizationId)
    .execute();
  const suspended = await trx
    .updateTable('addons')
    .set({ state: 'suspended', last_error: 'suspended: an invoice is unpaid', updated_at: sql`now()` })
    .where('organization_id', '=', organizationId)
    .where('state', '=', 'provisioned')
    .returning(['id', 'app_id', 'name'])
    .execute();
  for (const addon of suspended) {
    await recordEvent(trx, addon.app_id, addon.id, 'addon.suspended', { addon: addon.name, reason: 'unpaid invoice' });
  }
  return suspended.length;
}

export interface DunningReport {
  suspendedAccounts: number;
  suspendedAddons: number;
  restoredAddons: number;
}

/** Suspends accounts whose grace period is over; restores settled ones (a missed webhook). */
export async function runDunning(ctx: BrokerContext, now = new Date()): Promise<DunningReport> {
  const graceMs = ctx.billing.graceDays * 86_400_000;
  const report: DunningReport = { suspendedAccounts: 0, suspendedAddons: 0, restoredAddons: 0 };
  const accounts = await ctx.db
    .selectFrom('billing_accounts')
    .select(['organization_id', 'status', 'past_due_since'])
    .where('status', '!=', 'good')
    .execute();
  for (const account of accounts) {
    await ctx.db.transaction().execute(async (trx) => {
      const restored = await restoreIfSettled(trx, account.organization_id);
      if (restored > 0 || !(await stillUnpaid(trx, account.organization_id))) {
        report.restoredAddons += restored;
        return;
      }
      const since = account.past_due_since?.getTime() ?? now.getTime();
      if (since + graceMs > now.getTime()) return;
      if (account.status !== 'suspended') report.suspendedAccounts++;
      // Also catches add-ons that became provisioned after the account was suspended.
      report.suspendedAddons += await suspendOrg(trx, account.organization_id);
    });
  }
  return report;
}

async function stillUnpaid(trx: Executor, organizationId: string): Promise<boolean> {
  const row = await trx
    .selectFrom('invoices')
    .select('id')
    .where('organization_id', '=', organizationId)
    .where('state', '=', 'payment_failed')
    .executeTakeFirst();
  return Boolean(row);
}
