import type { AddonState } from '@annex/platform';
import { findPlanById } from '../db/catalog.js';
import type { BrokerContext } from '../domain/context.js';
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

export async function runReconciliation(ctx: BrokerContext, now = new Date()): Promise<{ findings: Finding[] }> {
  const findings: Finding[] = [];
  const addons = await ctx.db
    .selectFrom('addons as a')
    .leftJoin('usage_intervals as i', (join) => join.onRef('i.addon_id', '=', 'a.id').on('i.ended_at', 'is', null))
    .select([
      'a.id',
      'a.name',
      'a.state',
      'a.plan_id',
      'a.organization_id',
      'a.app_id',
      'a.destroyed_at',
      'a.updated_at',
      'i.id as interval_id',
    ])
    .where((eb) =>
      eb.or([eb('a.state', 'in', [...LIVE, 'destroyed' as const, 'failed' as const]), eb('i.id', 'is not', null)]),
    )
    .execute();
  for (const addon of addons) {
    const live = LIVE.includes(addon.state);
    const atProvider = await providerHas(ctx, addon.id, addon.plan_id);
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
      // Safe going forward: bill from now, never retroactively.
      await ctx.db.transaction().execute((trx) => openInterval(trx, addon, addon.plan_id, now));
      findings.push({
        kind: 'billable_orphan',
        addonId: addon.id,
        addon: addon.name,
        state: addon.state,
        detail: 'live add-on with no open usage interval; opened one from now',
        fixed: true,
      });
    }
    if (!live && addon.state === 'destroyed' && atProvider === true) {
      findings.push({
        kind: 'billable_orphan',
        addonId: addon.id,
        addon: addon.name,
        state: addon.state,
        detail: 'destroyed in the broker but the provider still has the instance; deprovision it at the provider',
        fixed: false,
      });
    }
    if (live && atProvider === false) {
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
    await ctx.db
      .insertInto('broker_audit_log')
      .values({
        actor_kind: 'billing',
        action: `billing.reconcile.${f.kind}`,
        instance_id: f.addonId,
        result: f.fixed ? 'fixed' : 'reported',
        detail: JSON.stringify({ addon: f.addon, state: f.state, detail: f.detail }),
      })
      .execute();
  }
  return { findings };
}

/** `true`/`false` when the provider answered fetch instance; `undefined` when it cannot tell. */
async function providerHas(ctx: BrokerContext, instanceId: string, planId: string): Promise<boolean | undefined> {
  const plan = await findPlanById(ctx.db, planId);
  if (!plan?.service.instances_retrievable || !plan.provider.osb_url) return undefined;
  // The provider knows the instance by the provider-side id the broker gave it.
  const instance = await ctx.db
    .selectFrom('service_instances')
    .select('provider_instance_id')
    .where('id', '=', instanceId)
    .executeTakeFirst();
  if (!instance?.provider_instance_id) return false;
  const answer = await ctx.providers.call(plan.provider, {
    method: 'GET',
    path: `/v2/service_instances/${encodeURIComponent(instance.provider_instance_id)}`,
  });
  if (answer.kind !== 'answer') return undefined;
  if (answer.status === 200) return true;
  if (answer.status === 404 || answer.status === 410) return false;
  return undefined;
}
