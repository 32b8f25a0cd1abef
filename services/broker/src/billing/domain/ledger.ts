import { sql } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';
import { type IntervalPart, monthBounds, monthlyCharge } from './money.js';

// The ledger's writes and reads. Interval changes take the executor of the transaction that
// changes the add-on's state, so the ledger and the add-on never disagree.

/** The advisory lock class (first key) of `lockOrgMonth`; the second key hashes the org and month. */
const ORG_MONTH_LOCK_CLASS = 7301;

/**
 * Orders usage reports against the invoicing of their month, per organization and month:
 * a usage batch holds it shared while it checks that the month is not invoiced and stores
 * its records; invoicing holds it exclusively while it reads the month and freezes the
 * invoice. Usage is either on the invoice or refused, never accepted and left off.
 */
export async function lockOrgMonth(
  trx: Executor,
  organizationId: string,
  period: string,
  mode: 'shared' | 'exclusive',
): Promise<void> {
  const key = `${organizationId}:${period}`;
  if (mode === 'shared') {
    await sql`select pg_advisory_xact_lock_shared(${ORG_MONTH_LOCK_CLASS}, hashtext(${key}))`.execute(trx);
  } else {
    await sql`select pg_advisory_xact_lock(${ORG_MONTH_LOCK_CLASS}, hashtext(${key}))`.execute(trx);
  }
}

interface AddonRef {
  id: string;
  organization_id: string;
  app_id: string;
}

/** Opens the add-on's interval on `planId` at `at`, unless one is open already. */
export async function openInterval(trx: Executor, addon: AddonRef, planId: string, at: Date): Promise<void> {
  const open = await trx
    .selectFrom('usage_intervals')
    .select('id')
    .where('addon_id', '=', addon.id)
    .where('ended_at', 'is', null)
    .executeTakeFirst();
  if (open) return;
  const plan = await trx
    .selectFrom('plans as p')
    .innerJoin('services as s', 's.id', 'p.service_id')
    .select(['p.price_cents', 'p.currency', 'p.free', 's.provider_id'])
    .where('p.id', '=', planId)
    .executeTakeFirstOrThrow();
  await trx
    .insertInto('usage_intervals')
    .values({
      addon_id: addon.id,
      organization_id: addon.organization_id,
      app_id: addon.app_id,
      plan_id: planId,
      provider_id: plan.provider_id,
      price_cents: plan.free ? 0 : plan.price_cents,
      currency: plan.currency,
      started_at: at,
      ended_at: null,
    })
    .execute();
}

/** Closes the add-on's open interval at `at` (nothing when none is open). */
export async function closeInterval(trx: Executor, addonId: string, at: Date): Promise<number> {
  const result = await trx
    .updateTable('usage_intervals')
    .set({ ended_at: at })
    .where('addon_id', '=', addonId)
    .where('ended_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** A plan change: the open interval ends and one on the new plan starts at the same instant. */
export async function splitInterval(trx: Executor, addon: AddonRef, newPlanId: string, at: Date): Promise<void> {
  await closeInterval(trx, addon.id, at);
  await openInterval(trx, addon, newPlanId, at);
}

export interface AddonCharge {
  addonId: string;
  addon: string;
  appId: string;
  app: string;
  providerId: string;
  currency: string;
  plans: string[];
  seconds: number;
  /** Fractional cents. */
  cents: number;
  capped: boolean;
}

export interface MeteredCharge {
  addonId: string;
  addon: string;
  appId: string;
  app: string;
  providerId: string;
  currency: string;
  plan: string;
  unit: string;
  quantity: number;
  cents: number;
}

/** The plan charges and metered usage of an organization (optionally one app) in a month. */
export async function monthCharges(
  db: Executor,
  filter: { organizationId: string; appId?: string | undefined },
  period: string,
  now: Date,
): Promise<{ addons: AddonCharge[]; metered: MeteredCharge[] }> {
  const { start, end } = monthBounds(period);
  let intervals = db
    .selectFrom('usage_intervals as i')
    .innerJoin('addons as a', 'a.id', 'i.addon_id')
    .innerJoin('apps as ap', 'ap.id', 'i.app_id')
    .innerJoin('plans as p', 'p.id', 'i.plan_id')
    .select([
      'i.addon_id',
      'a.name as addon',
      'i.app_id',
      'ap.name as app',
      'i.provider_id',
      'i.currency',
      'p.slug as plan',
      'i.price_cents',
      'i.started_at',
      'i.ended_at',
    ])
    .where('i.organization_id', '=', filter.organizationId)
    .where('i.started_at', '<', end)
    .where((eb) => eb.or([eb('i.ended_at', 'is', null), eb('i.ended_at', '>', start)]))
    .orderBy('i.started_at');
  if (filter.appId) intervals = intervals.where('i.app_id', '=', filter.appId);
  const rows = await intervals.execute();
  const byAddon = new Map<string, { rows: typeof rows; parts: IntervalPart[] }>();
  for (const row of rows) {
    const key = `${row.addon_id}:${row.currency}`;
    const entry = byAddon.get(key) ?? { rows: [], parts: [] };
    entry.rows.push(row);
    entry.parts.push({ priceCents: row.price_cents, startedAt: row.started_at, endedAt: row.ended_at });
    byAddon.set(key, entry);
  }
  const addons: AddonCharge[] = [];
  for (const { rows: group, parts } of byAddon.values()) {
    const first = group[0];
    if (!first) continue;
    const charge = monthlyCharge(parts, period, now);
    // A running add-on shows from its first second; a closed zero-length interval never does.
    if (charge.seconds === 0 && parts.every((p) => p.endedAt !== null)) continue;
    addons.push({
      addonId: first.addon_id,
      addon: first.addon,
      appId: first.app_id,
      app: first.app,
      providerId: first.provider_id,
      currency: first.currency,
      plans: [...new Set(group.map((r) => r.plan))],
      seconds: charge.seconds,
      cents: charge.cents,
      capped: charge.capped,
    });
  }
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
  const metered = (await usage.execute()).map((r) => ({
    addonId: r.addon_id,
    addon: r.addon,
    appId: r.app_id,
    app: r.app,
    providerId: r.provider_id,
    currency: r.currency,
    plan: r.plan,
    unit: r.unit,
    quantity: Number(r.quantity),
    cents: Number(r.cents),
  }));
  return { addons, metered };
}

/** Metered spend (fractional cents) of an org, or one of its apps, in a month. */
export async function meteredSpend(
  db: Executor,
  organizationId: string,
  appId: string | null,
  period: string,
): Promise<number> {
  // The running totals kept with the usage (usage.ts): one row per app of the org and month.
  let query = db
    .selectFrom('usage_totals')
    .select(sql<string | null>`sum(cents)`.as('cents'))
    .where('organization_id', '=', organizationId)
    .where('period', '=', period);
  if (appId) query = query.where('app_id', '=', appId);
  const row = await query.executeTakeFirst();
  return Number(row?.cents ?? 0);
}
