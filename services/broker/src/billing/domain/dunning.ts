import { recordEvent } from '../../apps/index.js';
import type { Executor } from '../../shared/db/executor.js';
import type { BrokerContext } from '../../shared/domain/context.js';
import {
  insertAccountIfAbsent,
  listAccountsNotInGoodStanding,
  markAccountGood,
  markAccountPastDue,
  markAccountSuspended,
} from '../db/accounts.js';
import { restoreSuspendedAddons, suspendProvisionedAddons } from '../db/addons.js';
import { findPaymentFailedInvoice } from '../db/invoices.js';

// Dunning: a failed payment makes the account past due; after the grace period its add-ons
// are suspended (never deleted); the last unpaid invoice being paid restores them.

/** Marks the org past due from `failedAt` (the earliest failure counts). */
export async function markPastDue(trx: Executor, organizationId: string, failedAt: Date): Promise<void> {
  await insertAccountIfAbsent(trx, organizationId);
  await markAccountPastDue(trx, organizationId, failedAt);
}

/** Back to good standing when no invoice of the org is still unpaid after a failure; restores add-ons. */
export async function restoreIfSettled(trx: Executor, organizationId: string): Promise<number> {
  const unpaid = await findPaymentFailedInvoice(trx, organizationId);
  if (unpaid) return 0;
  await markAccountGood(trx, organizationId);
  const restored = await restoreSuspendedAddons(trx, organizationId);
  for (const addon of restored) {
    await recordEvent(trx, addon.app_id, addon.id, 'addon.restored', { addon: addon.name, reason: 'invoice paid' });
  }
  return restored.length;
}

async function suspendOrg(trx: Executor, organizationId: string): Promise<number> {
  await markAccountSuspended(trx, organizationId);
  const suspended = await suspendProvisionedAddons(trx, organizationId, 'suspended: an invoice is unpaid');
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
  const accounts = await listAccountsNotInGoodStanding(ctx.db);
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
  const row = await findPaymentFailedInvoice(trx, organizationId);
  return Boolean(row);
}
