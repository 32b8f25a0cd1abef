import type { MeteredPrice } from '@annex/platform';
import { isUuid } from '../../apps/index.js';
import { insertAuditEntry } from '../../shared/db/audit.js';
import type { Executor } from '../../shared/db/executor.js';
import type { BrokerContext } from '../../shared/domain/context.js';
import { BrokerFailure, badRequest, notFound } from '../../shared/domain/errors.js';
import { findAccountStatus } from '../db/accounts.js';
import { listInvoicedMonths } from '../db/invoices.js';
import { lockOrgMonth } from '../db/locks.js';
import { insertSpendAlertIfAbsent, listSpendCapsOfApp } from '../db/spend.js';
import { insertUsageRecords, listMeteredAddons, meteredSpend } from '../db/usage.js';
import { monthBounds, periodOf, previousPeriod } from './money.js';

// Metered usage reported by providers (docs/provider-protocol.md §3) and the spend-cap
// check they make before serving metered work.

export interface UsageInput {
  idempotencyKey: string;
  instanceId: string;
  unit: string;
  quantity: number;
  at: string;
}

/** Percent of a cap at which an alert is recorded, once per cap and month. */
export const ALERT_THRESHOLDS = [50, 80, 100] as const;

interface MeteredAddon {
  id: string;
  organization_id: string;
  app_id: string;
  state: string;
  currency: string;
  metered: MeteredPrice[];
  provider_id: string;
}

/** The add-ons behind some of a provider's instances, by provider-side id (one query). */
async function meteredAddons(
  db: Executor,
  providerId: string,
  instanceIds: readonly string[],
): Promise<Map<string, MeteredAddon>> {
  const found = new Map<string, MeteredAddon>();
  if (instanceIds.length === 0) return found;
  // Providers know instances by the id the broker sent them (the provider-side id).
  const rows = await listMeteredAddons(db, providerId, instanceIds);
  for (const { provider_instance_id: instanceId, ...addon } of rows) {
    if (instanceId && addon.provider_id === providerId) found.set(instanceId, addon);
  }
  return found;
}

async function meteredAddon(db: Executor, providerId: string, instanceId: string): Promise<MeteredAddon | undefined> {
  return (await meteredAddons(db, providerId, [instanceId])).get(instanceId);
}

/**
 * Stores a batch of usage records: every record is checked first (a bad one refuses the whole
 * batch, naming it), then each key is stored once per provider; repeats are counted, not stored.
 * One query finds the batch's add-ons and one statement stores it.
 */
export async function recordUsage(
  ctx: BrokerContext,
  providerId: string,
  records: readonly UsageInput[],
): Promise<{ accepted: number; duplicates: number }> {
  const addons = await meteredAddons(ctx.db, providerId, records.map((r) => r.instanceId).filter(isUuid));
  const rows = records.map((record, i) => {
    const where = `records.${i}`;
    if (!isUuid(record.instanceId)) throw badRequest(`${where}.instanceId: not an instance id`);
    const addon = addons.get(record.instanceId);
    if (!addon)
      throw notFound(`${where}.instanceId: add-on instance "${record.instanceId}" of this provider not found`);
    const price = addon.metered.find((m) => m.unit === record.unit);
    if (!price) {
      const units = addon.metered.map((m) => m.unit).join(', ') || 'none';
      throw badRequest(`${where}.unit: "${record.unit}" is not a metered unit of the add-on's plan (units: ${units})`);
    }
    const at = new Date(record.at);
    if (Number.isNaN(at.getTime())) throw badRequest(`${where}.at: not an ISO time`);
    if (at.getTime() > Date.now() + 5 * 60_000) throw badRequest(`${where}.at: is in the future`);
    return {
      provider_id: providerId,
      idempotency_key: record.idempotencyKey,
      addon_id: addon.id,
      organization_id: addon.organization_id,
      app_id: addon.app_id,
      unit: record.unit,
      quantity: record.quantity,
      unit_price: price.price,
      currency: addon.currency,
      at,
    };
  });
  // A month already invoiced for the org is closed: usage reported into it would count
  // against caps but never be billed nor paid out. The check and the insert hold each of the
  // batch's org-months shared (in key order), which invoicing holds exclusively while it
  // freezes the month: a record is on the invoice or refused, never accepted and left off.
  const months = [...new Map(rows.map((r) => [`${r.organization_id}:${periodOf(r.at)}`, r])).entries()].sort(
    ([a], [b]) => (a < b ? -1 : a > b ? 1 : 0),
  );
  const oldest = monthBounds(previousPeriod(new Date())).start;
  const inserted =
    rows.length === 0
      ? []
      : await ctx.db.transaction().execute(async (trx) => {
          for (const [, r] of months) await lockOrgMonth(trx, r.organization_id, periodOf(r.at), 'shared');
          const invoiced = await listInvoicedMonths(
            trx,
            months.map(([, r]) => ({ organizationId: r.organization_id, period: periodOf(r.at) })),
          );
          if (invoiced.length > 0) {
            const closed = new Set(invoiced.map((i) => `${i.organization_id}:${i.period}`));
            const index = rows.findIndex((r) => closed.has(`${r.organization_id}:${periodOf(r.at)}`));
            const period = periodOf((rows[index] as (typeof rows)[number]).at);
            throw badRequest(
              `records.${index}.at: ${period} is already invoiced for this organization; usage must be reported before its month is invoiced`,
            );
          }
          // Invoicing runs for the month that just ended: a month before it is never invoiced
          // again, even for an organization that had nothing else in it.
          const stale = rows.findIndex((r) => r.at.getTime() < oldest.getTime());
          if (stale >= 0) {
            throw badRequest(
              `records.${stale}.at: ${periodOf((rows[stale] as (typeof rows)[number]).at)} is closed; usage is accepted for this month and the previous one (from ${oldest.toISOString()})`,
            );
          }
          return insertUsageRecords(trx, rows);
        });
  const touched = new Map<string, { organizationId: string; appId: string; period: string }>();
  for (const row of inserted) {
    const period = periodOf(row.at);
    touched.set(`${row.app_id}:${period}`, { organizationId: row.organization_id, appId: row.app_id, period });
  }
  for (const t of touched.values()) await checkSpendAlerts(ctx, t.organizationId, t.appId, t.period);
  return { accepted: inserted.length, duplicates: records.length - inserted.length };
}

/** Records an alert for each threshold the org's and the app's metered spend has crossed this month. */
export async function checkSpendAlerts(
  ctx: BrokerContext,
  organizationId: string,
  appId: string,
  period: string,
): Promise<number> {
  const caps = await listSpendCapsOfApp(ctx.db, organizationId, appId);
  let raised = 0;
  for (const cap of caps) {
    const spent = await meteredSpend(ctx.db, organizationId, cap.app_id, period);
    for (const threshold of ALERT_THRESHOLDS) {
      if (spent < (cap.limit_cents * threshold) / 100) continue;
      const recorded = await insertSpendAlertIfAbsent(ctx.db, {
        organization_id: organizationId,
        scope: cap.scope,
        month: period,
        threshold,
        spent_cents: spent,
        limit_cents: cap.limit_cents,
      });
      if (!recorded) continue;
      raised++;
      await insertAuditEntry(ctx.db, {
        actor_kind: 'billing',
        action: 'billing.spend_alert',
        result: 'raised',
        detail: JSON.stringify({
          organization_id: organizationId,
          scope: cap.scope,
          month: period,
          threshold,
          spent_cents: spent,
          limit_cents: cap.limit_cents,
        }),
      });
      ctx.logger.warn({ organizationId, scope: cap.scope, threshold, period }, 'spend cap alert');
    }
  }
  return raised;
}

/**
 * Whether the add-on's owner may consume more of `unit`: not when the add-on or its account
 * is suspended or a cap is reached; `remaining` counts units left under the tightest cap.
 */
export async function allowance(
  ctx: BrokerContext,
  providerId: string,
  instanceId: string,
  unit: string,
  now = new Date(),
): Promise<{ allowed: boolean; remaining?: number; reason?: string }> {
  if (!isUuid(instanceId)) throw notFound(`instance "${instanceId}" not found`);
  const addon = await meteredAddon(ctx.db, providerId, instanceId);
  if (!addon) throw notFound(`add-on instance "${instanceId}" of this provider not found`);
  const price = addon.metered.find((m) => m.unit === unit);
  if (!price) throw new BrokerFailure('BadRequest', `unit: "${unit}" is not a metered unit of the add-on's plan`);
  if (addon.state === 'suspended') return { allowed: false, remaining: 0, reason: 'the add-on is suspended' };
  if (addon.state === 'destroyed' || addon.state === 'destroying') {
    return { allowed: false, remaining: 0, reason: `the add-on is ${addon.state}` };
  }
  const account = await findAccountStatus(ctx.db, addon.organization_id);
  if (account?.status === 'suspended') return { allowed: false, remaining: 0, reason: 'the account is suspended' };
  const caps = await listSpendCapsOfApp(ctx.db, addon.organization_id, addon.app_id);
  if (caps.length === 0) return { allowed: true };
  const period = periodOf(now);
  let remainingCents = Number.POSITIVE_INFINITY;
  for (const cap of caps) {
    const spent = await meteredSpend(ctx.db, addon.organization_id, cap.app_id, period);
    remainingCents = Math.min(remainingCents, cap.limit_cents - spent);
  }
  const remaining = price.price > 0 ? Math.max(0, Math.floor(remainingCents / price.price + 1e-9)) : undefined;
  const allowed = remainingCents > 0 && (remaining === undefined || remaining > 0);
  return {
    allowed,
    ...(remaining === undefined ? {} : { remaining }),
    ...(allowed ? {} : { reason: 'the spend cap is reached' }),
  };
}
