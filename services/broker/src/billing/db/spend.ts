import type { SpendAlertsTable, SpendCapsTable } from '@annex/platform';
import { type Insertable, type Selectable, sql } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';

// Spend caps on metered usage and the alerts recorded as spend crosses them.

export type SpendCapRow = Selectable<SpendCapsTable>;
export type NewSpendAlert = Insertable<SpendAlertsTable>;

/** The org's caps, each with the name of its app (null for the org's own). */
export async function listSpendCapsWithApps(db: Executor, organizationId: string) {
  return db
    .selectFrom('spend_caps as c')
    .leftJoin('apps as a', 'a.id', 'c.app_id')
    .select(['c.scope', 'c.app_id', 'c.limit_cents', 'a.name as app'])
    .where('c.organization_id', '=', organizationId)
    .orderBy('c.scope')
    .execute();
}

/** The caps that limit an app's spend: the org's and the app's own. */
export async function listSpendCapsOfApp(db: Executor, organizationId: string, appId: string): Promise<SpendCapRow[]> {
  return db
    .selectFrom('spend_caps')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .where((eb) => eb.or([eb('scope', '=', 'org'), eb('scope', '=', appId)]))
    .execute();
}

export async function deleteSpendCap(db: Executor, organizationId: string, scope: string): Promise<void> {
  await db.deleteFrom('spend_caps').where('organization_id', '=', organizationId).where('scope', '=', scope).execute();
}

export async function upsertSpendCap(
  db: Executor,
  organizationId: string,
  scope: string,
  appId: string | null,
  limitCents: number,
): Promise<void> {
  await db
    .insertInto('spend_caps')
    .values({ organization_id: organizationId, scope, app_id: appId, limit_cents: limitCents })
    .onConflict((oc) =>
      oc.columns(['organization_id', 'scope']).doUpdateSet({ limit_cents: limitCents, updated_at: sql`now()` }),
    )
    .execute();
}

/** The org's latest alerts (at most `limit`), each with the name of its app (null for the org's). */
export async function listSpendAlerts(db: Executor, organizationId: string, limit: number) {
  return db
    .selectFrom('spend_alerts as s')
    .leftJoin('apps as a', (join) => join.on(sql`a.id::text`, '=', sql.ref('s.scope')))
    .select(['a.name as app', 's.threshold', 's.month', 's.spent_cents', 's.created_at'])
    .where('s.organization_id', '=', organizationId)
    .orderBy('s.created_at', 'desc')
    .limit(limit)
    .execute();
}

/** Records an alert unless the same one (scope, month, threshold) is recorded; returns whether it was. */
export async function insertSpendAlertIfAbsent(db: Executor, alert: NewSpendAlert): Promise<boolean> {
  const row = await db
    .insertInto('spend_alerts')
    .values(alert)
    .onConflict((oc) => oc.columns(['organization_id', 'scope', 'month', 'threshold']).doNothing())
    .returning('threshold')
    .executeTakeFirst();
  return row !== undefined;
}
