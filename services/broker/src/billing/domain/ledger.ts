import type { Executor } from '../../shared/db/executor.js';
import { closeOpenInterval, insertIntervalUnlessOpen, listIntervalsOverlapping } from '../db/intervals.js';
import { sumUsageBetween } from '../db/usage.js';
import { type IntervalPart, monthBounds, monthlyCharge } from './money.js';

// The ledger's writes and reads. Interval changes take the executor of the transaction that
// changes the add-on's state, so the ledger and the add-on never disagree.

interface AddonRef {
  id: string;
  organization_id: string;
  app_id: string;
}

/** Opens the add-on's interval on `planId` at `at`, unless one is open already. */
export async function openInterval(trx: Executor, addon: AddonRef, planId: string, at: Date): Promise<void> {
  await insertIntervalUnlessOpen(trx, addon, planId, at);
}

/** Closes the add-on's open interval at `at` (nothing when none is open). */
export async function closeInterval(trx: Executor, addonId: string, at: Date): Promise<number> {
  return closeOpenInterval(trx, addonId, at);
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
  const rows = await listIntervalsOverlapping(db, filter, start, end);
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
  const metered = (await sumUsageBetween(db, filter, start, end)).map((r) => ({
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
