import type { AddonState } from '@annex/platform';
import { insertAuditEntry } from '../../shared/db/audit.js';
import { findPlanById, type PlanContext } from '../../shared/db/catalog.js';
import type { BrokerContext } from '../../shared/domain/context.js';
import { listAddonsToReconcile, lockAddonState } from '../db/addons.js';
import { findOpenInterval } from '../db/intervals.js';
import { closeInterval, openInterval } from './ledger.js';

// Three-way reconciliation: the broker's add-ons, what the provider says about each instance
// (OSB fetch instance, when the service allows it) and the billing ledger's open intervals.

export type FindingKind = 'billable_orphan' | 'deleted_but_billed' | 'missing_at_provider';

export interface Finding {
  kind: FindingKind;
  addonId: string;
  addon: string;
  state: string;
  detail: string;
  fixed: boolean;
}

const LIVE: AddonState[] = ['provisioned', 'suspended', 'changing_plan'];

/**
 * How long after its destruction an add-on is still asked about at the provider (a
 * deprovision the provider did not carry out shows within days, and the hourly job must
 * not grow with every add-on ever destroyed).
 */
export const RECENTLY_DESTROYED_DAYS = 7;

/** Provider calls (fetch instance) in flight at once during one reconciliation. */
const PROVIDER_CALLS_AT_ONCE = 8;

/**
 * Reconciles the add-ons that can still be wrong: the live ones, those whose usage interval
 * is still open, and those destroyed in the last RECENTLY_DESTROYED_DAYS. Plans are read
 * once per plan, and providers are asked a few at a time.
 */
export async function runReconciliation(ctx: BrokerContext, now = new Date()): Promise<{ findings: Finding[] }> {
  const findings: Finding[] = [];
  const destroyedSince = new Date(now.getTime() - RECENTLY_DESTROYED_DAYS * 86_400_000);
  const addons = await listAddonsToReconcile(ctx.db, LIVE, destroyedSince);
  const plans = new Map<string, Promise<PlanContext | undefined>>();
  const planOf = (planId: string) => {
    let plan = plans.get(planId);
    if (!plan) {
      plan = findPlanById(ctx.db, planId);
      plans.set(planId, plan);
    }
    return plan;
  };
  const atProvider = await mapAtMost(PROVIDER_CALLS_AT_ONCE, addons, async (addon) =>
    LIVE.includes(addon.state) || (addon.state === 'destroyed' && (addon.destroyed_at ?? now) >= destroyedSince)
      ? providerHas(ctx, await planOf(addon.plan_id), addon.provider_instance_id)
      : undefined,
  );
  for (const [index, addon] of addons.entries()) {
    const live = LIVE.includes(addon.state);
    if (!live && addon.interval_id) {
      // Safe: the add-on is gone in the broker, so billing stops when it went.
      const at = addon.destroyed_at ?? addon.updated_at;
      await ctx.db.transaction().execute((trx) => closeInterval(trx, addon.id, at));
      findings.push({
        kind: 'deleted_but_billed',
        addonId: addon.id,
        addon: addon.name,
        state: addon.state,
        detail: `interval still open on a ${addon.state} add-on; closed at ${at.toISOString()}`,
        fixed: true,
      });
    }
    if (live && !addon.interval_id) {
      // Safe going forward: bill from now, never retroactively — if the add-on is still
      // live and unbilled now (the provider calls above took time; it may be gone since).
      const opened = await ctx.db.transaction().execute(async (trx) => {
        const current = await lockAddonState(trx, addon.id);
        if (!current || !LIVE.includes(current.state)) return false;
        const billed = await findOpenInterval(trx, addon.id);
        if (billed) return false;
        await openInterval(trx, addon, current.plan_id, now);
        return true;
      });
      if (opened)
        findings.push({
          kind: 'billable_orphan',
          addonId: addon.id,
          addon: addon.name,
          state: addon.state,
          detail: 'live add-on with no open usage interval; opened one from now',
          fixed: true,
        });
    }
    if (!live && addon.state === 'destroyed' && atProvider[index] === true) {
      findings.push({
        kind: 'billable_orphan',
        addonId: addon.id,
        addon: addon.name,
        state: addon.state,
        detail: 'destroyed in the broker but the provider still has the instance; deprovision it at the provider',
        fixed: false,
      });
    }
    if (live && atProvider[index] === false) {
      findings.push({
        kind: 'missing_at_provider',
        addonId: addon.id,
        addon: addon.name,
        state: addon.state,
        detail: 'billed, but the provider does not know the instance; check before destroying it',
        fixed: false,
      });
    }
  }
  for (const f of findings) {
    await insertAuditEntry(ctx.db, {
      actor_kind: 'billing',
      action: `billing.reconcile.${f.kind}`,
      instance_id: f.addonId,
      result: f.fixed ? 'fixed' : 'reported',
      detail: JSON.stringify({ addon: f.addon, state: f.state, detail: f.detail }),
    });
  }
  return { findings };
}

/** `work` over `items` with at most `limit` running at once; results in item order. */
async function mapAtMost<T, R>(limit: number, items: readonly T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  });
  await Promise.all(lanes);
  return results;
}

/** `true`/`false` when the provider answered fetch instance; `undefined` when it cannot tell. */
async function providerHas(
  ctx: BrokerContext,
  plan: PlanContext | undefined,
  providerInstanceId: string | null,
): Promise<boolean | undefined> {
  if (!plan?.service.instances_retrievable || !plan.provider.osb_url) return undefined;
  // The provider knows the instance by the provider-side id the broker gave it.
  if (!providerInstanceId) return false;
  const answer = await ctx.providers.call(plan.provider, {
    method: 'GET',
    path: `/v2/service_instances/${encodeURIComponent(providerInstanceId)}`,
  });
  if (answer.kind !== 'answer') return undefined;
  if (answer.status === 200) return true;
  if (answer.status === 404 || answer.status === 410) return false;
  return undefined;
}
