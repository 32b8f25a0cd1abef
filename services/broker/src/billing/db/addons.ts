import type { AddonState } from '@annex/platform';
import { sql } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';

// The add-ons as billing reads and changes them: suspended and restored for unpaid invoices,
// and reconciled against the ledger.

export interface ChangedAddon {
  id: string;
  app_id: string;
  name: string;
}

/** Restores the org's suspended add-ons to provisioned; returns them. */
export async function restoreSuspendedAddons(db: Executor, organizationId: string): Promise<ChangedAddon[]> {
  return db
    .updateTable('addons')
    .set({ state: 'provisioned', last_error: null, updated_at: sql`now()` })
    .where('organization_id', '=', organizationId)
    .where('state', '=', 'suspended')
    .returning(['id', 'app_id', 'name'])
    .execute();
}

/** Suspends the org's provisioned add-ons with `reason` as their last error; returns them. */
export async function suspendProvisionedAddons(
  db: Executor,
  organizationId: string,
  reason: string,
): Promise<ChangedAddon[]> {
  return db
    .updateTable('addons')
    .set({ state: 'suspended', last_error: reason, updated_at: sql`now()` })
    .where('organization_id', '=', organizationId)
    .where('state', '=', 'provisioned')
    .returning(['id', 'app_id', 'name'])
    .execute();
}

/**
 * The add-ons in one of the `live` states, with an open interval, or destroyed since
 * `destroyedSince`; each with its open interval's id and its provider-side instance id.
 */
export async function listAddonsToReconcile(db: Executor, live: readonly AddonState[], destroyedSince: Date) {
  return db
    .selectFrom('addons as a')
    .leftJoin('usage_intervals as i', (join) => join.onRef('i.addon_id', '=', 'a.id').on('i.ended_at', 'is', null))
    .leftJoin('service_instances as si', (join) => join.on(sql<boolean>`si.id = a.id::text`))
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
      'si.provider_instance_id',
    ])
    .where((eb) =>
      eb.or([
        eb('a.state', 'in', [...live]),
        eb('i.id', 'is not', null),
        eb.and([eb('a.state', '=', 'destroyed'), eb('a.destroyed_at', '>=', destroyedSince)]),
      ]),
    )
    .execute();
}

/** The add-on's state and plan, locked. */
export async function lockAddonState(
  db: Executor,
  id: string,
): Promise<{ state: AddonState; plan_id: string } | undefined> {
  return db.selectFrom('addons').select(['state', 'plan_id']).where('id', '=', id).forUpdate().executeTakeFirst();
}
