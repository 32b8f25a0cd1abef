import type { UsageRecordsTable } from '@annex/platform';
import { type Insertable, sql } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';

// Metered usage: the records providers report and the running totals kept with them.

export type NewUsageRecord = Insertable<UsageRecordsTable>;

/**
 * The add-ons behind a provider's instances, by the provider-side ids the broker sent it,
 * with what their plans charge per unit.
 */
export async function listMeteredAddons(db: Executor, providerId: string, instanceIds: readonly string[]) {
  return db
    .selectFrom('service_instances as si')
    .innerJoin('addons as a', (join) => join.on(sql<boolean>`a.id::text = si.id`))
    .innerJoin('plans as p', 'p.id', 'a.plan_id')
    .innerJoin('services as s', 's.id', 'a.service_id')
    .select([
      'si.provider_instance_id',
      'a.id',
      'a.organization_id',
      'a.app_id',
      'a.state',
      'p.currency',
      'p.metered',
      's.provider_id',
    ])
    .where('si.provider_id', '=', providerId)
    .where('si.provider_instance_id', 'in', [...new Set(instanceIds)])
    .execute();
}

/** Stores usage records once per provider and key; returns the stored ones. */
export async function insertUsageRecords(
  db: Executor,
  rows: NewUsageRecord[],
): Promise<{ organization_id: string; app_id: string; at: Date }[]> {
  // A key repeated within the batch, or stored before, is skipped by the conflict clause;
  // what is stored adds to the month's totals (usage_totals) by trigger, in this statement.
  return db
    .insertInto('usage_records')
    .values(rows)
    .onConflict((oc) => oc.columns(['provider_id', 'idempotency_key']).doNothing())
    .returning(['organization_id', 'app_id', 'at'])
    .execute();
}

/**
 * The metered usage of an org (optionally one app) in [start, end), summed per add-on, unit
 * and currency (quantity and cents as numeric strings), by add-on name and unit.
 */
export async function sumUsageBetween(
  db: Executor,
  filter: { organizationId: string; appId?: string | undefined },
  start: Date,
  end: Date,
) {
  let usage = db
    .selectFrom('usage_records as u')
    .innerJoin('addons as a', 'a.id', 'u.addon_id')
    .innerJoin('apps as ap', 'ap.id', 'u.app_id')
    .innerJoin('plans as p', 'p.id', 'a.plan_id')
    .select([
      'u.addon_id',
      'a.name as addon',
      'u.app_id',
      'ap.name as app',
      'u.provider_id',
      'u.currency',
      'p.slug as plan',
      'u.unit',
      sql<string>`sum(u.quantity)`.as('quantity'),
      sql<string>`sum(u.quantity * u.unit_price)`.as('cents'),
    ])
    .where('u.organization_id', '=', filter.organizationId)
    .where('u.at', '>=', start)
    .where('u.at', '<', end)
    .groupBy(['u.addon_id', 'a.name', 'u.app_id', 'ap.name', 'u.provider_id', 'u.currency', 'p.slug', 'u.unit'])
    .orderBy('a.name')
    .orderBy('u.unit');
  if (filter.appId) usage = usage.where('u.app_id', '=', filter.appId);
  return usage.execute();
}

/** Metered spend (fractional cents) of an org, or one of its apps, in a month. */
export async function meteredSpend(
  db: Executor,
  organizationId: string,
  appId: string | null,
  period: string,
): Promise<number> {
  // The running totals kept with the usage (insertUsageRecords): one row per app of the org and month.
  let query = db
    .selectFrom('usage_totals')
    .select(sql<string | null>`sum(cents)`.as('cents'))
    .where('organization_id', '=', organizationId)
    .where('period', '=', period);
  if (appId) query = query.where('app_id', '=', appId);
  const row = await query.executeTakeFirst();
  return Number(row?.cents ?? 0);
}

/** Count of usage rows (tests and the reconciliation report). */
export async function usageCount(db: Executor, addonId: string): Promise<number> {
  const row = await db
    .selectFrom('usage_records')
    .select(sql<string>`count(*)`.as('n'))
    .where('addon_id', '=', addonId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
